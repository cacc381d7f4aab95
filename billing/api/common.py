"""Pieces every billing endpoint shares: money in and out, periods, lookups, permissions."""

import re
from datetime import date
from decimal import Decimal

from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import get_attribute

from accounts.errors import ApplicationError
from billing.filters import period_parse
from billing.money import Money, exponent

AMOUNT_RE = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")


class InvalidAmount(ApplicationError):
    code = "invalid_amount"
    message = "The amount has more decimals than the currency allows."


@extend_schema_serializer(component_name="Money")
class MoneySerializer(serializers.Serializer):
    """Money as the API shows it: never a float."""

    amount = serializers.CharField(help_text='Major units, exact, as a string: "1234.50".')
    currency = serializers.CharField(help_text="ISO 4217 code.")
    minor = serializers.IntegerField(help_text="Integer count of minor units: 123450.")


def money_data(money: Money) -> dict:
    return {"amount": f"{money.amount:f}", "currency": money.currency, "minor": money.minor}


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """A Money attribute, or an integer of minor units read with the object's `currency`."""

    def __init__(self, *, currency: str = "currency", **kwargs) -> None:
        self.currency_attribute = currency
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        if isinstance(value, Money):
            return value
        return Money(value, get_attribute(instance, self.currency_attribute.split(".")))

    def to_representation(self, value: Money) -> dict:
        return money_data(value)


@extend_schema_field({"type": "string", "pattern": r"^\d+(\.\d+)?$", "example": "1234.50"})
class AmountField(serializers.Field):
    """An amount in major units, as a string ("1234.50"): a JSON number is refused."""

    default_error_messages = {"invalid_amount": 'A positive amount such as "1234.50".'}

    def to_internal_value(self, data) -> Decimal:
        text = data.strip() if isinstance(data, str) else ""
        if not AMOUNT_RE.match(text) or Decimal(text) <= 0:
            self.fail("invalid_amount")
        return Decimal(text)


def money_in(amount: Decimal, currency: str, *, field: str = "amount") -> Money:
    """Money from a parsed AmountField; InvalidAmount when finer than the currency's minor unit."""
    try:
        return Money.of(amount, currency)
    except ValueError:
        raise InvalidAmount(
            f"{currency} amounts have at most {exponent(currency)} decimals.",
            extra={"fields": {field: [InvalidAmount.message]}},
        ) from None


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
class PeriodField(serializers.Field):
    """A billing month typed as "2026-11"; the first day of that month."""

    default_error_messages = {"invalid_period": 'A month such as "2026-11".'}

    def to_internal_value(self, data) -> date:
        month = period_parse(data) if isinstance(data, str) else None
        if month is None:
            self.fail("invalid_period")
        return month

    def to_representation(self, value: date) -> str:
        return f"{value:%Y-%m}"


def object_or_404(queryset: QuerySet, pk: int) -> Model:
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


class MethodPermissions:
    """For a view serving several operations on one URL: `permissions_by_method` names, per HTTP
    method, who may call it (see accounts.permissions). HEAD is GET; any other method not
    named falls back to the view's `permission_classes`."""

    permissions_by_method: dict[str, list] = {}

    def get_permissions(self):
        method = "GET" if self.request.method == "HEAD" else self.request.method
        classes = self.permissions_by_method.get(method, self.permission_classes)
        return [permission() for permission in classes]
