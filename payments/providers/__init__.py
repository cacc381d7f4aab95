"""The provider registry: PAYMENT_PROVIDERS maps a name to a class path and its options."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from payments.providers.base import PaymentProvider


class ProviderNotConfigured(LookupError):
    pass


@cache
def _build(name: str, class_path: str, options_key: tuple) -> PaymentProvider:
    return import_string(class_path)(**dict(options_key))


def _freeze(value):
    return tuple(value) if isinstance(value, list) else value


def provider_get(name: str) -> PaymentProvider:
    """The configured adapter for `name` ("mpesa", "orange", "airtel", "mtn", "sandbox")."""
    conf = settings.PAYMENT_PROVIDERS.get(name)
    if conf is None:
        raise ProviderNotConfigured(name)
    options = tuple(sorted((k, _freeze(v)) for k, v in conf["options"].items()))
    return _build(name, conf["class"], options)


def provider_names() -> list[str]:
    return list(settings.PAYMENT_PROVIDERS)
