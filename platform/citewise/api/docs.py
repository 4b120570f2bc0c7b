"""Swagger UI at /api/docs/ under the site's strict CSP (script-src and style-src 'self').

drf-spectacular's split view already serves the start script from its own URL (?script)
instead of inline; its page template still carries one inline <style>, which the CSP
would block, so the page uses our template: the same page with that style in a file."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class DocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
