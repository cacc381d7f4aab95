"""The SMS staff API.

GET  /api/sms/messages/          message log (by phone or account), status and cost  [staff]
POST /api/sms/messages/send/     a one-off message to one phone                      [managers]
GET  /api/sms/spend/             messages, segments and cost per day and gateway      [managers]
GET  /api/sms/contacts/          opt-outs and gateway blocks of the people we text     [staff]
"""

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import PhoneNumberField
from accounts.audit import audit_record, audit_snapshot
from accounts.permissions import IsManager, IsStaffMember
from billing.models import ServiceAccount
from billing.services.accounts import service_account_find
from sms.models import MessageKind, MessageStatus
from sms.selectors import contact_list, message_list, spend_by_day
from sms.services import message_queue

MAX_BODY = 612  # four GSM-7 segments


def _account_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, max_length=32, help_text="An account number (spaces and dashes allowed)."
    )


def _account_validate(value: str) -> ServiceAccount:
    account = service_account_find(value)
    if account is None:
        raise serializers.ValidationError("No account has this number (check the digits).")
    return account


@extend_schema_serializer(component_name="SmsMessage")
class MessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    to = serializers.CharField()
    kind = serializers.ChoiceField(choices=MessageKind.choices)
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    body = serializers.CharField(help_text="Any code in it is masked.")
    encoding = serializers.CharField()
    segments = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    cost_currency = serializers.CharField()
    gateway = serializers.CharField()
    gateway_message_id = serializers.CharField()
    attempts = serializers.IntegerField()
    error = serializers.CharField()
    defer_reason = serializers.CharField()
    flagged = serializers.BooleanField()
    account_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    not_before = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


class MessageListApi(APIView):
    permission_classes = [IsStaffMember]
    pagination_class = LimitOffsetPagination

    @extend_schema_serializer(component_name="SmsMessageFilter")
    class FilterSerializer(serializers.Serializer):
        phone = PhoneNumberField(required=False, max_length=32, help_text="Any format.")
        account = _account_field()
        status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)
        kind = serializers.ChoiceField(choices=MessageKind.choices, required=False)
        created_at__gte = serializers.DateTimeField(required=False)
        created_at__lte = serializers.DateTimeField(required=False)

        def validate_account(self, value: str) -> ServiceAccount:
            return _account_validate(value)

    @extend_schema(
        operation_id="sms_messages_list",
        parameters=[FilterSerializer],
        responses=MessageOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        account = filters.validated_data.get("account")
        phones = None
        if account is not None:
            phones = [account.owner.phone, *account.contacts.values_list("phone", flat=True)]
        messages = message_list(
            filters=filters.validated_data,
            account_id=account.pk if account else None,
            account_phones=phones,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)


class MessageSendApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="SmsMessageSend")
    class InputSerializer(serializers.Serializer):
        to = PhoneNumberField(max_length=32, help_text="Any format; sent in E.164.")
        body = serializers.CharField(max_length=MAX_BODY)
        kind = serializers.ChoiceField(
            choices=[MessageKind.NOTICE, MessageKind.BROADCAST], default=MessageKind.NOTICE
        )
        account = _account_field()
        idempotency_key = serializers.CharField(
            required=False,
            max_length=100,
            help_text="Sending again with the same key returns the first message.",
        )

        def validate_account(self, value: str) -> ServiceAccount:
            return _account_validate(value)

    @extend_schema(
        operation_id="sms_messages_send",
        request=InputSerializer,
        responses={201: MessageOutputSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key = values.get("idempotency_key") or uuid.uuid4().hex
        with transaction.atomic():
            message = message_queue(
                to=values["to"],
                body=values["body"],
                kind=values["kind"],
                idempotency_key=f"staff:{request.user.pk}:{key}",
                account=values.get("account"),
            )
            audit_record(
                actor=request.user,
                action="sms.send",
                instance=message,
                after=audit_snapshot(message),
            )
        return Response(MessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class SpendApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="SmsSpendFilter")
    class FilterSerializer(serializers.Serializer):
        date_from = serializers.DateField(required=False, help_text="Default: 30 days ago.")
        date_to = serializers.DateField(required=False, help_text="Default: today.")

        def validate(self, attrs):
            today = timezone.localdate()
            attrs.setdefault("date_to", today)
            attrs.setdefault("date_from", attrs["date_to"] - timedelta(days=30))
            if attrs["date_from"] > attrs["date_to"]:
                raise serializers.ValidationError({"date_to": "Must not be before date_from."})
            return attrs

    @extend_schema_serializer(component_name="SmsSpendDay")
    class OutputSerializer(serializers.Serializer):
        day = serializers.DateField()
        gateway = serializers.CharField()
        currency = serializers.CharField(source="cost_currency")
        messages = serializers.IntegerField()
        segments = serializers.IntegerField()
        cost = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True)

    @extend_schema(
        operation_id="sms_spend_list",
        parameters=[FilterSerializer],
        responses=OutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = spend_by_day(**filters.validated_data)
        return Response(self.OutputSerializer(rows, many=True).data)


class ContactListApi(APIView):
    permission_classes = [IsStaffMember]
    pagination_class = LimitOffsetPagination

    @extend_schema_serializer(component_name="SmsContactFilter")
    class FilterSerializer(serializers.Serializer):
        phone = serializers.CharField(required=False, max_length=32)
        blocked = serializers.BooleanField(required=False, allow_null=True, default=None)
        opted_out = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="SmsContact")
    class OutputSerializer(serializers.Serializer):
        phone = serializers.CharField()
        language = serializers.CharField()
        opted_out = serializers.BooleanField()
        opted_out_at = serializers.DateTimeField(allow_null=True)
        blocked_on = serializers.ListField(
            child=serializers.CharField(), help_text="Gateways that refuse this number."
        )
        blocked_reason = serializers.CharField()
        blocked_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(
        operation_id="sms_contacts_list",
        parameters=[
            FilterSerializer,
            OpenApiParameter("phone", OpenApiTypes.STR, description="A number or part of one."),
        ],
        responses=OutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            contact_list(filters=filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
