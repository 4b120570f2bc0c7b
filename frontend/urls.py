from django.urls import path

from frontend import chat_views, views

app_name = "frontend"
urlpatterns = [
    path("", views.home, name="home"),
    path("chat/", chat_views.chat, name="chat"),
    path("chat/c/<int:conversation_id>/", chat_views.chat, name="conversation"),
    path("chat/c/<int:conversation_id>/rename", chat_views.rename, name="conversation_rename"),
    path("chat/c/<int:conversation_id>/delete", chat_views.delete, name="conversation_delete"),
    path("chat/messages/", chat_views.ask, name="chat_ask"),
    path("chat/messages/stop", chat_views.stop, name="chat_stop"),
    path("chat/messages/<int:message_id>/feedback", chat_views.feedback, name="chat_feedback"),
    path("sources/<int:chunk_id>/", views.source, name="source"),
    path("sources/<int:chunk_id>/pages/<int:page>.png", views.page_image, name="page_image"),
    path("documents/<int:document_id>/original", views.original, name="original"),
]
