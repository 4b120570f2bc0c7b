from django.urls import path

from frontend.console import reports, views

app_name = "console"
urlpatterns = [
    path("", views.index, name="index"),
    path("reports/", reports.report_page, name="reports"),
    path("reports/<slug:report>/", reports.report_page, name="report"),
    path("reports/<slug:report>/csv/", reports.report_csv, name="report_csv"),
]
