from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("citewise.ops.urls")),
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]
