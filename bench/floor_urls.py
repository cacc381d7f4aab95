"""The callback storm's server: the product's URLs plus the floor, a bare Django view.

Not part of the product: `bench/callback_storm.py` serves `bench.floor_urls:application` with
gunicorn, routed as config/wsgi.py routes (webhook paths, the floor's included, through the
lean middleware: config/webhook_handler.py). The floor view does what any callback endpoint
must at least do (read a JSON body, one
insert-on-conflict and one update in a transaction, answer JSON), so the storm's rate can be
read as a fraction of what this server, database and machine allow at all.
"""

import json
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
django_application = get_wsgi_application()  # sets Django up before config.urls is imported

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from config.webhook_handler import WebhookRouter  # noqa: E402

FLOOR_TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_floor_event (event_key text PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS bench_floor_item (item_key text PRIMARY KEY, done boolean)",
)


@csrf_exempt
def floor(request, token: str):
    key = json.loads(request.body)["key"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor_event (event_key) VALUES (%s) "
            "ON CONFLICT DO NOTHING RETURNING event_key",
            [key],
        )
        if cursor.fetchone() is not None:
            cursor.execute("UPDATE bench_floor_item SET done = true WHERE item_key = %s", [key])
    return JsonResponse({"ResultCode": 0, "ResultDesc": "Accepted"})


urlpatterns = [
    path("payments/floor/<str:token>/", floor),
    path("", include("config.urls")),
]
settings.ROOT_URLCONF = __name__
application = WebhookRouter(django_application)
