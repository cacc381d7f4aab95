"""The gateways' and operators' webhooks skip the middleware made for people at a browser.

USSD hops, SMS webhooks and payment callbacks (`WEBHOOK_PREFIXES`) come from machines: they
carry no session cookie or CSRF token, are not framed or served static files, and no staff
member is logged in. `WebhookRouter` sends them through a second Django handler built with
`WEBHOOK_MIDDLEWARE` only, and everything else (admin, staff API, docs, health) through the
full stack. Only a served application uses it (config/wsgi.py); Django's test client goes
through the full stack, which these views do not rely on.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

WEBHOOK_PREFIXES = ("/ussd/", "/sms/", "/payments/")
WEBHOOK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with the webhook middleware instead of settings.MIDDLEWARE."""

    def __init__(self, middleware: list[str]) -> None:
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads the list from settings; swap it for the build (at start-up, one thread).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = self.middleware
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class WebhookRouter:
    """A WSGI application: webhook paths to the lean handler, the rest to `application`."""

    def __init__(self, application, prefixes: tuple[str, ...] = WEBHOOK_PREFIXES) -> None:
        self.application = application
        self.webhooks = WebhookHandler(WEBHOOK_MIDDLEWARE)
        self.prefixes = prefixes

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.prefixes):
            return self.webhooks(environ, start_response)
        return self.application(environ, start_response)
