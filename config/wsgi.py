import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()  # sets Django up

from config.webhook_handler import WebhookRouter  # noqa: E402 - needs Django set up

application = WebhookRouter(django_application)
