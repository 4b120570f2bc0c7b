from django.urls import path

from frontend import views

app_name = "frontend"
urlpatterns = [
    path("", views.home, name="home"),
    path("chat/", views.chat, name="chat"),
    path("sources/<int:chunk_id>/", views.source, name="source"),
    path("sources/<int:chunk_id>/pages/<int:page>.png", views.page_image, name="page_image"),
    path("documents/<int:document_id>/original", views.original, name="original"),
]
