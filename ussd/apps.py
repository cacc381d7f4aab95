from django.apps import AppConfig


class UssdConfig(AppConfig):
    name = "ussd"
