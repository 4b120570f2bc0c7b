from django.urls import path

from frontend.console import knowledge_bases

app_name = "console"
urlpatterns = [
    path("", knowledge_bases.index, name="index"),
    path("new/", knowledge_bases.create, name="kb_create"),
    path("knowledge-bases/<str:slug>/", knowledge_bases.detail, name="kb"),
    path("knowledge-bases/<str:slug>/status/", knowledge_bases.status, name="kb_status"),
    path("knowledge-bases/<str:slug>/edit/", knowledge_bases.edit, name="kb_edit"),
    path("knowledge-bases/<str:slug>/access/", knowledge_bases.access, name="kb_access"),
    path("knowledge-bases/<str:slug>/delete/", knowledge_bases.delete, name="kb_delete"),
    path("knowledge-bases/<str:slug>/reindex/", knowledge_bases.reindex, name="kb_reindex"),
    path("knowledge-bases/<str:slug>/try/", knowledge_bases.try_question, name="kb_try"),
]
