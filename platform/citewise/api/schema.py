"""How the OpenAPI schema describes the API's authentication (a Bearer API key) and its
event streams."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "citewise.api.authentication.BearerKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API key from `manage.py apikey create` or the admin."}


def sse_response(description: str, events: list[str] | None = None) -> OpenApiResponse:
    """Schema of a text/event-stream body: one item per event, its `data` a JSON text
    (or OpenAI's closing `[DONE]`); `events` lists the event names sent, if named."""
    event = {"type": "string", **({"enum": events} if events else {})}
    return OpenApiResponse({"type": "object", "required": ["data"], "properties": {
        "event": event, "data": {"type": "string"}, "id": {"type": "string"}}},
        description=description)
