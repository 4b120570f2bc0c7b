from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "citewise.knowledge"
    label = "knowledge"
