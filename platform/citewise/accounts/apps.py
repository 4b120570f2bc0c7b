from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "citewise.accounts"
    label = "accounts"
    verbose_name = "Accounts"
