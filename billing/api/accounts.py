"""Service accounts: open one, find one, see one with its balance.

GET/POST /api/accounts/, GET /api/accounts/<id>/
"""

from django.db.models import Count, Q
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import IsStaffMember, role_required
from billing.api.common import MethodPermissions, MoneyField, object_or_404
from billing.api.invoices import InvoiceSerializer
from billing.filters import ServiceAccountFilter
from billing.models import AccountStatus, ServiceAccount, Tariff, Utility
from billing.models.invoices import OPEN_STATUSES
from billing.selectors import account_balance, account_last_invoice
from billing.services.onboarding import service_account_open

MAX_CONTACTS = 10


@extend_schema_serializer(component_name="TariffRef")
class TariffRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="ServiceAccount")
class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="Digits ending in a check digit.")
    operator = serializers.IntegerField(source="operator_id")
    utility = serializers.ChoiceField(choices=Utility.choices)
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    holder_name = serializers.CharField()
    owner = serializers.IntegerField(source="owner_id")
    owner_phone = serializers.CharField(source="owner.phone")
    owner_name = serializers.CharField(source="owner.name")
    address = serializers.CharField()
    zone = serializers.CharField()
    tariff = TariffRefSerializer()
    created_at = serializers.DateTimeField()


def accounts_base():
    return ServiceAccount.objects.select_related("owner", "tariff").order_by("id")


class AccountDetailApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema_serializer(component_name="ServiceAccountDetail")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="AccountContact")
        class ContactSerializer(serializers.Serializer):
            phone = serializers.CharField()
            name = serializers.CharField()

        @extend_schema_serializer(component_name="AccountMeter")
        class MeterSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            serial = serializers.CharField()
            unit = serializers.CharField()
            installed_at = serializers.DateTimeField()
            removed_at = serializers.DateTimeField(allow_null=True)

        account = AccountSerializer(source="*")
        contacts = ContactSerializer(many=True)
        meters = MeterSerializer(many=True)
        balance = MoneyField(help_text="What the customer owes now (negative: in credit).")
        open_invoices = serializers.IntegerField(help_text="Invoices, penalties, fees unpaid.")
        last_invoice = InvoiceSerializer(allow_null=True)

    @classmethod
    def data(cls, account_id: int) -> dict:
        account = object_or_404(
            accounts_base()
            .select_related("operator")
            .prefetch_related("contacts", "meters")
            .annotate(
                open_invoices=Count("invoices", filter=Q(invoices__status__in=OPEN_STATUSES))
            ),
            account_id,
        )
        account.balance = account_balance(account)
        account.last_invoice = account_last_invoice(account)
        if account.last_invoice is not None:
            account.last_invoice.account = account
        return cls.OutputSerializer(account).data

    @extend_schema(operation_id="accounts_retrieve", responses=OutputSerializer)
    def get(self, request, account_id: int):
        return Response(self.data(account_id))


class AccountListCreateApi(MethodPermissions, GenericAPIView):
    permission_classes = [IsStaffMember]
    permissions_by_method = {
        "GET": [IsStaffMember],
        "POST": [role_required(Role.AGENT, Role.MANAGER)],
    }
    queryset = accounts_base()
    filterset_class = ServiceAccountFilter

    @extend_schema_serializer(component_name="ServiceAccountCreate")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="AccountContactCreate")
        class ContactSerializer(serializers.Serializer):
            phone = serializers.CharField(max_length=32)
            name = serializers.CharField(max_length=150, allow_blank=True, default="")

        tariff = serializers.PrimaryKeyRelatedField(
            queryset=Tariff.objects.select_related("operator"),
            help_text="The tariff; the account belongs to its operator.",
        )
        utility = serializers.ChoiceField(
            choices=Utility.choices, required=False, help_text="Default: the tariff's utility."
        )
        owner_phone = serializers.CharField(
            max_length=32,
            help_text="The owner's phone, any format; a new number becomes an inactive "
            "customer who activates it by SMS.",
        )
        owner_name = serializers.CharField(max_length=150, allow_blank=True, default="")
        holder_name = serializers.CharField(max_length=150)
        address = serializers.CharField(max_length=255, allow_blank=True, default="")
        zone = serializers.CharField(max_length=64, allow_blank=True, default="")
        contacts = ContactSerializer(many=True, required=False, max_length=MAX_CONTACTS)

    @extend_schema(
        operation_id="accounts_list",
        responses=AccountSerializer(many=True),
        description="Search by account number, phone, name or meter serial (`search`), or by "
        "each separately.",
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AccountSerializer(page, many=True).data)

    @extend_schema(
        operation_id="accounts_create",
        request=InputSerializer,
        responses={201: AccountDetailApi.OutputSerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = service_account_open(
            tariff=data["tariff"],
            utility=data.get("utility"),
            owner_phone=data["owner_phone"],
            owner_name=data["owner_name"],
            holder_name=data["holder_name"],
            address=data["address"],
            zone=data["zone"],
            contacts=[(c["phone"], c["name"]) for c in data.get("contacts", [])],
            actor=request.user,
        )
        return Response(AccountDetailApi.data(account.pk), status=status.HTTP_201_CREATED)


urlpatterns = [
    path("accounts/", AccountListCreateApi.as_view(), name="billing-accounts"),
    path("accounts/<int:account_id>/", AccountDetailApi.as_view(), name="billing-account"),
]
