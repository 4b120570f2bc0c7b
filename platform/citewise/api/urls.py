"""/api/: REST v1, its OpenAPI schema and the interactive docs (Swagger UI from the
sidecar's files, its start script a separate file so the page's CSP needs no inline
script)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from citewise.api import views
from citewise.api.docs import DocsView
from citewise.api.problems import not_found

app_name = "api"

urlpatterns = [
    path("v1/ask", views.AskView.as_view(), name="ask"),
    path("v1/search", views.SearchView.as_view(), name="search"),
    path("v1/knowledge-bases", views.KnowledgeBaseList.as_view(), name="knowledge-bases"),
    path("v1/knowledge-bases/<str:slug>", views.KnowledgeBaseDetail.as_view(),
         name="knowledge-base"),
    path("v1/documents", views.DocumentList.as_view(), name="documents"),
    path("v1/documents/<int:pk>", views.DocumentDetail.as_view(), name="document"),
    path("v1/conversations", views.ConversationList.as_view(), name="conversations"),
    path("v1/conversations/<int:pk>", views.ConversationDetail.as_view(),
         name="conversation"),
    path("v1/messages/<int:pk>/feedback", views.FeedbackView.as_view(), name="feedback"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[],
                                               permission_classes=[]), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^(?P<path>.*)$", not_found),
]
