from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("citewise.ops.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("citewise.api.urls")),
    path("v1/", include("citewise.api.openai_urls")),  # OpenAI-compatible
    path("accounts/", include("frontend.account_urls")),
    path("console/", include("frontend.console.urls")),
    # set_language: the language switcher posts here; the choice is kept in a cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("frontend.urls")),
]

# An outage (database down, disk full) raised outside a view still gets its own page.
handler500 = "citewise.ops.views.server_error"
