from django.urls import path

from frontend.console import documents, views

app_name = "console"
urlpatterns = [
    path("", views.index, name="index"),
    # A knowledge base's slug may hold Hangul (allow_unicode), hence <str:>, not <slug:>.
    path("<str:slug>/documents/", documents.document_list, name="documents"),
    path("<str:slug>/documents/rows", documents.document_rows, name="document_rows"),
    path("<str:slug>/documents/upload", documents.upload, name="document_upload"),
    path("<str:slug>/documents/delete", documents.delete_documents, name="documents_delete"),
    path("<str:slug>/documents/<int:document_id>/", documents.document_detail,
         name="document"),
    path("<str:slug>/documents/<int:document_id>/retry", documents.retry,
         name="document_retry"),
    path("<str:slug>/documents/<int:document_id>/pages/<int:page>.png", documents.page_image,
         name="document_page_image"),
]
