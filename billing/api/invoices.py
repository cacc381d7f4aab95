"""Invoices (with penalties and fees) for staff, their PDF, and credit notes for managers.

GET /api/invoices/, GET /api/invoices/<id>/, GET /api/invoices/<id>/pdf,
GET/POST /api/credit-notes/
"""

from django.db.models import Prefetch
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsManager, IsStaffMember
from billing.api.common import AmountField, MoneyField, PeriodField, money_in, object_or_404
from billing.filters import CreditNoteFilter, InvoiceFilter
from billing.models import (
    Allocation,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    MeterReading,
)
from billing.pdf import invoice_pdf
from billing.services.credit_notes import credit_note_issue
from billing.summaries import invoice_figures


@extend_schema_serializer(component_name="Invoice")
class InvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=InvoiceKind.choices)
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    account = serializers.IntegerField(source="account_id")
    account_number = serializers.CharField(source="account.number")
    holder_name = serializers.CharField(source="account.holder_name")
    period = PeriodField(allow_null=True, help_text='The billed month, "2026-11".')
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    total = MoneyField(source="total_minor")
    paid = MoneyField(source="paid_minor")
    credited = MoneyField(source="credited_minor")
    open = MoneyField(source="open_minor", help_text="Still to pay on this invoice.")
    consumption = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    is_estimated = serializers.BooleanField()
    related = serializers.IntegerField(
        source="related_id", allow_null=True, help_text="A penalty's overdue invoice."
    )
    replaces = serializers.IntegerField(source="replaces_id", allow_null=True)


def invoices_base():
    return Invoice.objects.select_related("account").order_by("-issue_date", "-id")


class InvoiceListApi(GenericAPIView):
    permission_classes = [IsStaffMember]
    queryset = invoices_base()
    filterset_class = InvoiceFilter

    @extend_schema(operation_id="invoices_list", responses=InvoiceSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(InvoiceSerializer(page, many=True).data)


class InvoiceDetailApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema_serializer(component_name="InvoiceDetail")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="InvoiceLine")
        class LineSerializer(serializers.Serializer):
            position = serializers.IntegerField()
            kind = serializers.ChoiceField(choices=LineKind.choices)
            description = serializers.CharField()
            quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
            unit_price = serializers.DecimalField(max_digits=18, decimal_places=6)
            amount = MoneyField(source="amount_minor", currency="invoice.currency")

        @extend_schema_serializer(component_name="InvoiceReading")
        class ReadingSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            meter_serial = serializers.CharField(source="meter.serial")
            index = serializers.DecimalField(max_digits=14, decimal_places=3)
            read_at = serializers.DateTimeField()
            consumption = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
            is_estimated = serializers.BooleanField()

        @extend_schema_serializer(component_name="InvoiceCreditNote")
        class CreditSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            number = serializers.CharField()
            amount = MoneyField(source="amount_minor")
            reason = serializers.CharField()
            created_at = serializers.DateTimeField()

        @extend_schema_serializer(component_name="InvoiceAllocation")
        class AllocationSerializer(serializers.Serializer):
            payment = serializers.IntegerField(source="payment_id")
            source = serializers.CharField(source="payment.source")
            reference = serializers.CharField(source="payment.reference")
            amount = MoneyField(source="amount_minor", currency="payment.currency")
            created_at = serializers.DateTimeField()

        invoice = InvoiceSerializer(source="*")
        lines = LineSerializer(many=True)
        readings = ReadingSerializer(many=True)
        credit_notes = CreditSerializer(many=True)
        allocations = AllocationSerializer(
            many=True, help_text="Payments settling it (negative: taken back by a reversal)."
        )
        balance_brought_forward = MoneyField(
            source="figures.brought_forward", help_text="Owed before this invoice."
        )
        to_pay = MoneyField(source="figures.to_pay", help_text="Brought forward plus total.")

    @extend_schema(operation_id="invoices_retrieve", responses=OutputSerializer)
    def get(self, request, invoice_id: int):
        invoice = object_or_404(
            invoices_base().prefetch_related(
                Prefetch("lines", queryset=InvoiceLine.objects.order_by("position")),
                Prefetch(
                    "readings",
                    queryset=MeterReading.objects.select_related("meter").order_by("read_at"),
                ),
                "credit_notes",
                Prefetch("allocations", queryset=Allocation.objects.select_related("payment")),
            ),
            invoice_id,
        )
        invoice.figures = invoice_figures(invoice)
        return Response(self.OutputSerializer(invoice).data)


class PdfRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class InvoicePdfApi(APIView):
    permission_classes = [IsStaffMember]
    renderer_classes = [PdfRenderer]

    def handle_exception(self, exc):
        """Errors are JSON, in the API's one error shape (a client that accepts only JSON gets
        a 406 so)."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="invoices_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The invoice as a printable PDF."
            )
        },
    )
    def get(self, request, invoice_id: int):
        invoice = object_or_404(Invoice.objects.all(), invoice_id)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response


@extend_schema_serializer(component_name="CreditNote")
class CreditNoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    invoice = serializers.IntegerField(source="invoice_id")
    invoice_number = serializers.CharField(source="invoice.number")
    amount = MoneyField(source="amount_minor")
    reason = serializers.CharField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    created_at = serializers.DateTimeField()


class CreditNoteListCreateApi(GenericAPIView):
    permission_classes = [IsManager]
    queryset = CreditNote.objects.select_related("invoice").order_by("-created_at", "-id")
    filterset_class = CreditNoteFilter

    @extend_schema_serializer(component_name="CreditNoteCreate")
    class InputSerializer(serializers.Serializer):
        invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.all())
        amount = AmountField(help_text='In the invoice\'s currency: "150.00" (KES), "500" (XAF).')
        reason = serializers.CharField(max_length=255)

    @extend_schema(operation_id="credit_notes_list", responses=CreditNoteSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CreditNoteSerializer(page, many=True).data)

    @extend_schema(
        operation_id="credit_notes_create",
        request=InputSerializer,
        responses={201: CreditNoteSerializer},
        description="Lowers what an issued invoice asks for, up to what is still open on it.",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invoice = data["invoice"]
        note = credit_note_issue(
            invoice=invoice,
            amount=money_in(data["amount"], invoice.currency),
            reason=data["reason"],
            actor=request.user,
        )
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("invoices/", InvoiceListApi.as_view(), name="billing-invoices"),
    path("invoices/<int:invoice_id>/", InvoiceDetailApi.as_view(), name="billing-invoice"),
    path("invoices/<int:invoice_id>/pdf", InvoicePdfApi.as_view(), name="billing-invoice-pdf"),
    path("credit-notes/", CreditNoteListCreateApi.as_view(), name="billing-credit-notes"),
]
