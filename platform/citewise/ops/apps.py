from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "citewise.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Connects the Celery signal handlers that fill the task table.
        from citewise.ops import task_records  # noqa: F401
