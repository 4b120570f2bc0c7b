from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "citewise.knowledge"
    label = "knowledge"

    def ready(self) -> None:
        from citewise.knowledge.metrics import DocumentTableCollector
        from citewise.ops.metrics import database_registry

        database_registry.register(DocumentTableCollector())
