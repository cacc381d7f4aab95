"""Which provider serves a phone: network code first, then the number's prefix."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.exceptions import NoProviderForPhone, ProviderUnavailable
from payments.routing import provider_route

ALL = {name: {"class": "x", "options": {}} for name in ("mpesa", "airtel", "mtn", "orange")}


@pytest.fixture
def everything(settings):
    settings.PAYMENT_PROVIDERS = ALL
    settings.PAYMENT_ROUTES = []


@pytest.mark.parametrize(
    ("phone", "provider"),
    [
        ("+254712345678", "mpesa"),  # Safaricom
        ("+254110123456", "mpesa"),
        ("+254733123456", "airtel"),  # Airtel Kenya
        ("+254100123456", "airtel"),
        ("+256772123456", "mtn"),  # MTN Uganda
        ("+256701234567", "airtel"),  # Airtel Uganda
        ("+237677123456", "mtn"),  # MTN Cameroon
        ("+237691234567", "orange"),  # Orange Cameroon
        ("+237655123456", "orange"),
        ("+2250712345678", "orange"),  # Orange Côte d'Ivoire
        ("+2250512345678", "mtn"),  # MTN Côte d'Ivoire
    ],
)
def test_the_number_prefix_names_the_operator(everything, phone, provider):
    assert provider_route(phone=phone) == provider


def test_the_network_code_beats_the_prefix_of_a_ported_number(everything):
    assert provider_route(phone="+254712345678", network_code="63903") == "airtel"


def test_an_unknown_network_code_falls_back_to_the_prefix(everything):
    assert provider_route(phone="+254712345678", network_code="99999") == "mpesa"


def test_settings_routes_come_first(everything, settings):
    settings.PAYMENT_ROUTES = ["+25471:airtel", "63902:mtn"]

    assert provider_route(phone="+254712345678") == "airtel"
    assert provider_route(phone="+254722345678", network_code="63902") == "mtn"


def test_a_malformed_route_is_a_configuration_error(everything, settings):
    settings.PAYMENT_ROUTES = ["mpesa"]

    with pytest.raises(ImproperlyConfigured):
        provider_route(phone="+254712345678")


def test_a_phone_no_operator_serves_is_refused(everything):
    with pytest.raises(NoProviderForPhone):
        provider_route(phone="+33612345678")


def test_an_operator_that_is_not_configured_is_unavailable(settings):
    settings.PAYMENT_PROVIDERS = {"mpesa": ALL["mpesa"]}
    settings.PAYMENT_ROUTES = []

    with pytest.raises(ProviderUnavailable):
        provider_route(phone="+256772123456")


def test_the_sandbox_stands_in_for_every_operator_in_the_demo(settings):
    settings.PAYMENT_PROVIDERS = {"sandbox": {"class": "x", "options": {}}}
    settings.PAYMENT_ROUTES = []

    assert provider_route(phone="+256772123456") == "sandbox"
    assert provider_route(phone="+33612345678") == "sandbox"
