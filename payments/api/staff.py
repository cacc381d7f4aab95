"""Staff API of payments, mounted at /api/payments/ (JWT; roles per endpoint).

POST intents/ (agent, manager: push a payment request to a phone; Idempotency-Key header),
GET intents/, GET intents/<id>/ (staff), GET transactions/ (staff), POST cash/ (agent,
manager), POST transactions/<id>/reverse (manager), GET suspense/, POST suspense/<id>/allocate,
POST suspense/<id>/refund (manager). Every change is audited.
"""

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import PhoneNumberField
from accounts.permissions import IsManager, IsStaffMember
from payments.api import suspense
from payments.api.serializers import (
    ERROR,
    IDEMPOTENCY_KEY,
    AmountInput,
    IntentOutput,
    IsAgentOrManager,
    PaymentOutput,
    account_or_error,
    money_or_error,
    paginated,
)
from payments.exceptions import IdempotencyKeyRequired
from payments.models import Channel, IntentStatus, Provider
from payments.selectors import payment_get, payment_intent_get, payment_intent_list, payment_list
from payments.services.cash import cash_payment_record
from payments.services.intents import payment_intent_create, payment_reversal_record


class PaymentIntentListCreateApi(APIView):
    @extend_schema_serializer(component_name="PaymentIntentFilter")
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=IntentStatus.choices, required=False)
        provider = serializers.ChoiceField(choices=Provider.choices, required=False)
        account = serializers.CharField(required=False, max_length=20)
        date_from = serializers.DateField(required=False, help_text="Created on or after.")
        date_to = serializers.DateField(required=False, help_text="Created on or before.")
        flagged = serializers.BooleanField(
            required=False, help_text="Only intents flagged for a person's eye."
        )

    @extend_schema_serializer(component_name="PaymentIntentCreate")
    class InputSerializer(AmountInput):
        phone = PhoneNumberField(max_length=32, help_text="The wallet asked to pay.")
        provider = serializers.ChoiceField(
            choices=Provider.choices, required=False, help_text="Default: routed by the phone."
        )

    def get_permissions(self):
        return [(IsAgentOrManager if self.request.method == "POST" else IsStaffMember)()]

    @extend_schema(
        operation_id="payment_intents_list",
        parameters=[FilterSerializer],
        responses=IntentOutput(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated(self, payment_intent_list(filters=filters.validated_data), IntentOutput)

    @extend_schema(
        operation_id="payment_intents_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: IntentOutput,
            400: OpenApiResponse(
                ERROR,
                description="`idempotency_key_required`, `invalid`, "
                "`account_not_found`, `amount_out_of_range`, `currency_mismatch`, "
                "`no_provider_for_phone`, `account_closed`.",
            ),
            409: OpenApiResponse(ERROR, description="`idempotency_key_reused`."),
            429: OpenApiResponse(ERROR, description="`push_too_soon`, with Retry-After."),
        },
    )
    def post(self, request):
        """Send a payment request (a PIN prompt) to a phone for an account; the push itself
        happens in the background. Poll the intent to see how it ends."""
        key = request.headers.get("Idempotency-Key", "").strip()
        if not 0 < len(key) <= 200:
            raise IdempotencyKeyRequired()
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = account_or_error(data["account"])
        intent = payment_intent_create(
            account=account,
            phone=data["phone"],
            amount=money_or_error(data["amount"], account),
            channel=Channel.API,
            idempotency_key=key,
            provider=data.get("provider"),
            initiated_by=request.user,
        )
        return Response(IntentOutput(intent).data, status=status.HTTP_201_CREATED)


class PaymentIntentDetailApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(operation_id="payment_intents_retrieve", responses=IntentOutput)
    def get(self, request, intent_id):
        intent = payment_intent_get(intent_id=intent_id)
        if intent is None:
            raise Http404
        return Response(IntentOutput(intent).data)


class PaymentListApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema_serializer(component_name="RecordedPaymentFilter")
    class FilterSerializer(serializers.Serializer):
        source = serializers.CharField(required=False, max_length=16, help_text="mpesa, cash…")
        account = serializers.CharField(required=False, max_length=20)
        reference = serializers.CharField(required=False, max_length=64)
        date_from = serializers.DateField(required=False, help_text="Received on or after.")
        date_to = serializers.DateField(required=False, help_text="Received on or before.")

    @extend_schema(
        operation_id="payment_transactions_list",
        parameters=[FilterSerializer],
        responses=PaymentOutput(many=True),
    )
    def get(self, request):
        """Money recorded on accounts, from every source (mobile money, cash, suspense)."""
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated(self, payment_list(filters=filters.validated_data), PaymentOutput)


class CashPaymentCreateApi(APIView):
    permission_classes = [IsAgentOrManager]

    @extend_schema_serializer(component_name="CashPaymentCreate")
    class InputSerializer(AmountInput):
        receipt_number = serializers.CharField(max_length=64, help_text="The paper receipt's.")
        received_at = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="payment_cash_create",
        request=InputSerializer,
        responses={
            201: PaymentOutput,
            400: OpenApiResponse(ERROR, description="`invalid`, `account_not_found`."),
            409: OpenApiResponse(ERROR, description="`payment_reference_conflict`."),
        },
    )
    def post(self, request):
        """Record cash taken by the agent (once per receipt number)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = account_or_error(data["account"])
        payment = cash_payment_record(
            account=account,
            amount=money_or_error(data["amount"], account),
            receipt_number=data["receipt_number"],
            agent=request.user,
            received_at=data.get("received_at"),
        )
        return Response(PaymentOutput(payment).data, status=status.HTTP_201_CREATED)


class PaymentReverseApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="PaymentReverse")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200)

    @extend_schema(
        operation_id="payment_transactions_reverse",
        request=InputSerializer,
        responses=PaymentOutput,
    )
    def post(self, request, payment_id: int):
        """Reverse a recorded payment (e.g. the operator reversed it); its intent becomes
        reversed. Reversing twice changes nothing."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_get(payment_id=payment_id)
        if payment is None:
            raise Http404
        payment = payment_reversal_record(
            payment=payment, reason=serializer.validated_data["reason"], actor=request.user
        )
        return Response(PaymentOutput(payment).data)


urlpatterns = [
    path("intents/", PaymentIntentListCreateApi.as_view(), name="payment-intents"),
    path("intents/<uuid:intent_id>/", PaymentIntentDetailApi.as_view(), name="payment-intent"),
    path("transactions/", PaymentListApi.as_view(), name="payment-transactions"),
    path(
        "transactions/<int:payment_id>/reverse",
        PaymentReverseApi.as_view(),
        name="payment-reverse",
    ),
    path("cash/", CashPaymentCreateApi.as_view(), name="payment-cash"),
    *suspense.urlpatterns,
]
