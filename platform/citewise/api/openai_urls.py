"""/v1/: the OpenAI-compatible endpoints, at the site root so that an OpenAI client's
base URL is http(s)://HOST/v1."""

from django.urls import path, re_path

from citewise.api import openai_compat as views
from citewise.api.openai_errors import not_found

app_name = "openai"

urlpatterns = [
    path("models", views.ModelList.as_view(), name="models"),
    path("models/<str:model>", views.ModelDetail.as_view(), name="model"),
    path("chat/completions", views.ChatCompletions.as_view(), name="chat-completions"),
    re_path(r"^(?P<path>.*)$", not_found),
]
