from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "citewise.api"
    label = "api"
