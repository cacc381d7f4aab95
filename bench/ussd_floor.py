"""The bench's WSGI app and URLconf: the product's URLs plus a floor view. Not in the product.

The floor is what any Django USSD hop must at least do here: parse the gateway's form, one
cache GET and one SET of the session (Redis), one indexed query, a text/plain answer, through
the same middleware (a webhook path, routed as config/wsgi.py routes:
config/webhook_handler.py). bench/ussd_hops.py reports our hops per second as a fraction of it.

    gunicorn bench.ussd_floor:application
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - Django is set up above
from django.core.cache import cache  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from billing.models import ServiceAccount  # noqa: E402
from config.urls import urlpatterns as product_urlpatterns  # noqa: E402
from config.webhook_handler import WebhookRouter  # noqa: E402

FLOOR_URL = "/ussd/bench-floor/"
FLOOR_ACCOUNT = "100000011"


@csrf_exempt
def floor(request):
    key = f"bench:floor:{request.POST.get('sessionId', '')}"
    state = cache.get(key) or {"hops": 0}
    state["hops"] += 1
    cache.set(key, state, timeout=300)
    account = (
        ServiceAccount.objects.filter(number=FLOOR_ACCOUNT).values_list("id", flat=True).first()
    )
    return HttpResponse(f"CON {account} {state['hops']}", content_type="text/plain")


urlpatterns = [*product_urlpatterns, path(FLOOR_URL.strip("/") + "/", floor)]
settings.ROOT_URLCONF = __name__
application = WebhookRouter(django_application)
