"""Dunning for staff: an account's status and history, disputes, instalment plans, work orders.

GET /api/accounts/<id>/dunning/, GET /api/accounts/<id>/dunning/events/,
POST /api/accounts/<id>/dispute/, POST /api/accounts/<id>/dispute/close/,
GET/POST /api/accounts/<id>/instalment-plans/,
(policies: billing.api.dunning_policies; work orders: billing.api.dunning_work_orders; ageing
report: billing.api.dunning_reports)
"""

from zoneinfo import ZoneInfo

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import IsManager, IsStaffMember, role_required
from billing.api import dunning_policies, dunning_reports, dunning_work_orders
from billing.api.common import AmountField, MethodPermissions, MoneyField, money_in, object_or_404
from billing.models import (
    DunningEvent,
    InstalmentPlan,
    PlanStatus,
    ServiceAccount,
    SuspensionReason,
)
from billing.money import Money
from billing.services.dunning_disputes import dispute_close, dispute_open
from billing.services.dunning_reports import account_dunning_status
from billing.services.instalments import (
    InstalmentSpec,
    InvalidPlan,
    instalment_plan_agree,
    instalments_split,
    overdue_balance,
)

AgentsAndManagers = role_required(Role.AGENT, Role.MANAGER)
FieldStaff = role_required(Role.TECHNICIAN, Role.MANAGER)


@extend_schema_serializer(component_name="Dispute")
class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    opened_by = serializers.IntegerField(source="opened_by_id", allow_null=True)
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()


@extend_schema_serializer(component_name="InstalmentPlan")
class PlanSerializer(serializers.Serializer):
    @extend_schema_serializer(component_name="Instalment")
    class InstalmentSerializer(serializers.Serializer):
        position = serializers.IntegerField()
        due_date = serializers.DateField()
        amount = MoneyField(source="amount_minor", currency="plan.currency")

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PlanStatus.choices)
    total = MoneyField(source="total_minor")
    invoices = serializers.SerializerMethodField(help_text="The invoices it covers.")
    agreed_by = serializers.IntegerField(source="agreed_by_id")
    agreed_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    instalments = InstalmentSerializer(many=True)

    def get_invoices(self, plan: InstalmentPlan) -> list[int]:
        return sorted(invoice.pk for invoice in plan.invoices.all())


class DunningStatusApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema_serializer(component_name="AccountDunning")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="InvoiceDunning")
        class InvoiceSerializer(serializers.Serializer):
            invoice = serializers.IntegerField(source="invoice.pk")
            number = serializers.CharField(source="invoice.number")
            due_date = serializers.DateField(source="invoice.due_date")
            open = MoneyField(source="invoice.open_minor", currency="invoice.currency")
            reached = serializers.ListField(child=serializers.CharField(), help_text="Stages.")
            next_stage = serializers.CharField(source="next_stage.code", allow_null=True)
            next_date = serializers.DateField(allow_null=True, help_text="Due from this day.")
            in_plan = serializers.BooleanField(help_text="Paused by an instalment plan.")

        @extend_schema_serializer(component_name="Suspension")
        class SuspensionSerializer(serializers.Serializer):
            reason = serializers.ChoiceField(choices=SuspensionReason.choices)
            started_at = serializers.DateTimeField()

        account = serializers.IntegerField(source="account.pk")
        account_status = serializers.CharField(source="account.status")
        policy = serializers.CharField(source="policy.name", allow_null=True)
        paused = serializers.BooleanField()
        dispute = DisputeSerializer(allow_null=True)
        instalment_plan = PlanSerializer(source="plan", allow_null=True)
        suspension = SuspensionSerializer(allow_null=True)
        invoices = InvoiceSerializer(many=True)

    @extend_schema(operation_id="accounts_dunning_retrieve", responses=OutputSerializer)
    def get(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.all(), account_id)
        return Response(self.OutputSerializer(account_dunning_status(account)).data)


class DunningEventListApi(GenericAPIView):
    permission_classes = [IsStaffMember]
    queryset = DunningEvent.objects.select_related("invoice", "stage").order_by(
        "-created_at", "-id"
    )

    @extend_schema_serializer(component_name="DunningEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        invoice = serializers.IntegerField(source="invoice_id")
        invoice_number = serializers.CharField(source="invoice.number")
        stage = serializers.CharField(source="stage.code")
        stage_name = serializers.CharField(source="stage.name")
        offset_days = serializers.IntegerField(source="stage.offset_days")
        run_date = serializers.DateField()
        superseded = serializers.BooleanField(help_text="A later stage was due too: no text.")
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="accounts_dunning_events_list", responses=OutputSerializer(many=True)
    )
    def get(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.all(), account_id)
        page = self.paginate_queryset(self.get_queryset().filter(account=account))
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)


class DisputeOpenApi(APIView):
    permission_classes = [AgentsAndManagers]

    @extend_schema_serializer(component_name="DisputeOpen")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=255)

    @extend_schema(
        operation_id="accounts_dispute_open",
        request=InputSerializer,
        responses={201: DisputeSerializer},
        description="Pauses the account's dunning until the dispute is closed.",
    )
    def post(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.all(), account_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = dispute_open(
            account=account, reason=serializer.validated_data["reason"], actor=request.user
        )
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeCloseApi(APIView):
    permission_classes = [AgentsAndManagers]

    @extend_schema_serializer(component_name="DisputeClose")
    class InputSerializer(serializers.Serializer):
        resolution = serializers.CharField(max_length=255)

    @extend_schema(
        operation_id="accounts_dispute_close",
        request=InputSerializer,
        responses=DisputeSerializer,
        description="Dunning resumes at the next run, without texts for stages passed over.",
    )
    def post(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.all(), account_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = dispute_close(
            account=account, resolution=serializer.validated_data["resolution"], actor=request.user
        )
        return Response(DisputeSerializer(dispute).data)


class InstalmentPlanListCreateApi(MethodPermissions, GenericAPIView):
    permission_classes = [IsStaffMember]
    permissions_by_method = {"GET": [IsStaffMember], "POST": [IsManager]}
    queryset = InstalmentPlan.objects.prefetch_related("instalments", "invoices").order_by(
        "-agreed_at", "-id"
    )

    @extend_schema_serializer(component_name="InstalmentPlanCreate")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="InstalmentCreate")
        class InstalmentSerializer(serializers.Serializer):
            due_date = serializers.DateField()
            amount = AmountField()

        instalments = InstalmentSerializer(
            many=True, required=False, max_length=24, help_text="Explicit instalments, or:"
        )
        count = serializers.IntegerField(min_value=1, max_value=24, required=False)
        first_due_date = serializers.DateField(required=False)
        every_days = serializers.IntegerField(min_value=1, max_value=92, default=30)

        def validate(self, data):
            if bool(data.get("instalments")) == bool(data.get("count")):
                raise InvalidPlan("Give either `instalments` or `count` and `first_due_date`.")
            if data.get("count") and not data.get("first_due_date"):
                raise InvalidPlan("`count` needs `first_due_date`.")
            return data

    @extend_schema(
        operation_id="accounts_instalment_plans_list", responses=PlanSerializer(many=True)
    )
    def get(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.all(), account_id)
        page = self.paginate_queryset(self.get_queryset().filter(account=account))
        return self.get_paginated_response(PlanSerializer(page, many=True).data)

    @extend_schema(
        operation_id="accounts_instalment_plans_create",
        request=InputSerializer,
        responses={201: PlanSerializer},
        description="Spreads the account's overdue balance (penalties and fees included) over "
        "instalments that add up to it exactly; pauses dunning on it and restores service.",
    )
    def post(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.select_related("operator"), account_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, currency = serializer.validated_data, account.operator.currency
        if data.get("instalments"):
            specs = [
                InstalmentSpec(row["due_date"], money_in(row["amount"], currency))
                for row in data["instalments"]
            ]
        else:
            specs = instalments_split(
                total=_overdue(account),
                count=data["count"],
                first_due=data["first_due_date"],
                every_days=data["every_days"],
            )
        plan = instalment_plan_agree(account=account, instalments=specs, actor=request.user)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


def _overdue(account: ServiceAccount) -> Money:
    today = timezone.localdate(timezone=ZoneInfo(account.operator.timezone))
    return overdue_balance(account=account, today=today)


urlpatterns = [
    path("accounts/<int:account_id>/dunning/", DunningStatusApi.as_view(), name="billing-dunning"),
    path(
        "accounts/<int:account_id>/dunning/events/",
        DunningEventListApi.as_view(),
        name="billing-dunning-events",
    ),
    path("accounts/<int:account_id>/dispute/", DisputeOpenApi.as_view(), name="billing-dispute"),
    path(
        "accounts/<int:account_id>/dispute/close/",
        DisputeCloseApi.as_view(),
        name="billing-dispute-close",
    ),
    path(
        "accounts/<int:account_id>/instalment-plans/",
        InstalmentPlanListCreateApi.as_view(),
        name="billing-instalment-plans",
    ),
    *dunning_policies.urlpatterns,
    *dunning_work_orders.urlpatterns,
    *dunning_reports.urlpatterns,
]
