from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

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
    # Pages that do not link an icon (Django's admin, the API's docs) make browsers ask
    # for this one; without it each shows a 404 on the console.
    path("favicon.ico", RedirectView.as_view(url=static("frontend/favicon.svg"),
                                             permanent=True)),
]
