from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and identities"

    def ready(self) -> None:
        from accounts.checks import jwt_settings_check

        jwt_settings_check()
