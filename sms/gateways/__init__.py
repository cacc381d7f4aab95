"""The gateway registry and routes.

SMS_GATEWAYS maps a name to {"class": dotted path, "options": {...}}; SMS_ROUTES says which
gateways carry a number, in failover order ("+254:africastalking|twilio", longest prefix wins,
"*" for any number). Instances are built once per configuration.
"""

import json
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from sms.gateways.base import SmsGateway


@cache
def _gateway(name: str, path: str, options_json: str) -> SmsGateway:
    return import_string(path)(name=name, **json.loads(options_json))


def gateway_get(name: str) -> SmsGateway:
    conf = settings.SMS_GATEWAYS[name]
    options = json.dumps(conf.get("options", {}), sort_keys=True)
    return _gateway(name, conf["class"], options)


def gateway_route(phone: str) -> list[str]:
    """The gateways that carry `phone`, in failover order (the longest matching prefix wins)."""
    best, best_len = [], -1
    for route in settings.SMS_ROUTES:
        prefix, _, names = route.partition(":")
        prefix = prefix.strip()
        matches = prefix == "*" or phone.startswith(prefix)
        length = 0 if prefix == "*" else len(prefix)
        if matches and length > best_len:
            best, best_len = [n.strip() for n in names.split("|") if n.strip()], length
    return best


def longest_prefix_value(table: dict[str, str], phone: str) -> str | None:
    """The value of the longest E.164 prefix of `phone` in `table` ("*" matches any)."""
    keys = [k for k in table if k != "*" and phone.startswith(k)]
    if keys:
        return table[max(keys, key=len)]
    return table.get("*")
