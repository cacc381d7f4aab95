"""What the staff payments API shares: output serializers, the error shape, small helpers."""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_required
from billing.models import ServiceAccount
from billing.money import Money
from payments.exceptions import AccountNotFound
from payments.models import Channel, IntentStatus, Provider, SuspenseStatus
from payments.selectors import service_account_by_number

IsAgentOrManager = role_required(Role.AGENT, Role.MANAGER)
ERROR = inline_serializer(
    name="PaymentError",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "extra": serializers.DictField(),
    },
)
IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description="Your unique id for this payment request (1-200 characters); sending the "
    "same key again returns the first intent instead of pushing twice.",
)


@extend_schema_field(OpenApiTypes.STR)
class AmountField(serializers.Field):
    """An amount read from `<minor_attr>` and `currency`, written as a decimal string."""

    def __init__(self, minor_attr: str = "amount_minor", **kwargs) -> None:
        self.minor_attr = minor_attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        minor = getattr(value, self.minor_attr)
        return None if minor is None else str(Money(minor, value.currency).amount)


def account_or_error(number: str) -> ServiceAccount:
    account = service_account_by_number(number)
    if account is None:
        raise AccountNotFound(extra={"account": number})
    return account


def money_or_error(value: Decimal, account: ServiceAccount) -> Money:
    try:
        return Money.of(value, account.operator.currency)
    except ValueError as exc:
        raise serializers.ValidationError(
            {"amount": [f"Too many decimals for {account.operator.currency}."]}
        ) from exc


def paginated(view: APIView, queryset, serializer_class) -> Response:
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class AmountInput(serializers.Serializer):
    account = serializers.CharField(max_length=20, help_text="The account number.")
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), help_text="Major units."
    )


@extend_schema_serializer(component_name="PaymentIntent")
class IntentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    account = serializers.CharField(source="account.number")
    provider = serializers.ChoiceField(choices=Provider.choices)
    phone = serializers.CharField()
    amount = AmountField()
    paid_amount = AmountField(minor_attr="paid_minor", allow_null=True)
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=IntentStatus.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    provider_reference = serializers.CharField()
    receipt = serializers.CharField()
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())
    payment = serializers.IntegerField(source="payment_id", allow_null=True)
    created_at = serializers.DateTimeField()
    pushed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="RecordedPayment")
class PaymentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.CharField(source="account.number")
    source = serializers.CharField()
    reference = serializers.CharField()
    amount = AmountField()
    currency = serializers.CharField()
    received_at = serializers.DateTimeField()
    recorded_by = serializers.IntegerField(source="recorded_by_id", allow_null=True)
    reversed_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="SuspensePayment")
class SuspenseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.ChoiceField(choices=Provider.choices)
    receipt = serializers.CharField()
    amount = AmountField()
    currency = serializers.CharField()
    bill_reference = serializers.CharField()
    payer = serializers.CharField()
    reason = serializers.CharField()
    candidates = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    status = serializers.ChoiceField(choices=SuspenseStatus.choices)
    allocated_account = serializers.CharField(source="allocated_account.number", allow_null=True)
    payment = serializers.IntegerField(source="payment_id", allow_null=True)
    received_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
