"""The gateway registry: SMS_GATEWAY names the adapter class by dotted path."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from sms.gateways.base import SmsGateway


@cache
def _gateway(path: str) -> SmsGateway:
    return import_string(path)()


def gateway_get() -> SmsGateway:
    return _gateway(settings.SMS_GATEWAY)
