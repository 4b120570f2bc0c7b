from django.urls import path

from frontend.console import audit, views

app_name = "console"
urlpatterns = [
    path("", views.index, name="index"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_export, name="audit_export"),
]
