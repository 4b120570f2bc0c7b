from django.urls import path

from frontend.console import audit, documents, knowledge_bases, reports

app_name = "console"
# A knowledge base's slug may hold Hangul (allow_unicode), hence <str:>, not <slug:>.
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
    path("knowledge-bases/<str:slug>/documents/", documents.document_list, name="documents"),
    path("knowledge-bases/<str:slug>/documents/rows", documents.document_rows,
         name="document_rows"),
    path("knowledge-bases/<str:slug>/documents/upload", documents.upload,
         name="document_upload"),
    path("knowledge-bases/<str:slug>/documents/delete", documents.delete_documents,
         name="documents_delete"),
    path("knowledge-bases/<str:slug>/documents/<int:document_id>/", documents.document_detail,
         name="document"),
    path("knowledge-bases/<str:slug>/documents/<int:document_id>/retry", documents.retry,
         name="document_retry"),
    path("knowledge-bases/<str:slug>/documents/<int:document_id>/pages/<int:page>.png",
         documents.page_image, name="document_page_image"),
    path("reports/", reports.report_page, name="reports"),
    path("reports/<slug:report>/", reports.report_page, name="report"),
    path("reports/<slug:report>/csv/", reports.report_csv, name="report_csv"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
]
