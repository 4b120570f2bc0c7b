from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "citewise.chat"
    label = "chat"
