"""Meter readings: technicians record them, managers review the held ones.

GET/POST /api/readings/, POST /api/readings/<id>/review

A reading that looks wrong (an anomaly), and every reading a customer sent, is held with
status `pending_review` until a manager accepts or rejects it; only accepted readings are
billed.
"""

from decimal import Decimal

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import IsManager, IsStaffMember, role_required
from billing.api.common import MethodPermissions, object_or_404
from billing.filters import MeterReadingFilter
from billing.models import Meter, MeterReading, ReadingSource, ReadingStatus
from billing.services.readings import reading_review, reading_submit

SUBMITTABLE_SOURCES = [c for c in ReadingSource.choices if c[0] != ReadingSource.ESTIMATE]


@extend_schema_serializer(component_name="MeterReading")
class ReadingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    meter = serializers.IntegerField(source="meter_id")
    meter_serial = serializers.CharField(source="meter.serial")
    account = serializers.IntegerField(source="meter.account_id")
    index = serializers.DecimalField(max_digits=14, decimal_places=3)
    read_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=ReadingSource.choices)
    status = serializers.ChoiceField(choices=ReadingStatus.choices)
    consumption = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    is_estimated = serializers.BooleanField()
    rolled_over = serializers.BooleanField()
    anomaly = serializers.CharField(help_text="Why it is held for review; empty when it is not.")
    submitted_by = serializers.IntegerField(source="submitted_by_id", allow_null=True)
    invoice = serializers.IntegerField(source="invoice_id", allow_null=True)
    created_at = serializers.DateTimeField()


def readings_base():
    return MeterReading.objects.select_related("meter").order_by("-read_at", "-id")


class ReadingListCreateApi(MethodPermissions, GenericAPIView):
    permission_classes = [IsStaffMember]
    permissions_by_method = {
        "GET": [IsStaffMember],
        "POST": [role_required(Role.TECHNICIAN, Role.MANAGER)],
    }
    queryset = readings_base()
    filterset_class = MeterReadingFilter

    @extend_schema_serializer(component_name="MeterReadingCreate")
    class InputSerializer(serializers.Serializer):
        meter = serializers.PrimaryKeyRelatedField(queryset=Meter.objects.all())
        index = serializers.DecimalField(
            max_digits=14, decimal_places=3, min_value=Decimal(0), help_text="As on the register."
        )
        read_at = serializers.DateTimeField(required=False, help_text="Default: now.")
        source = serializers.ChoiceField(
            choices=SUBMITTABLE_SOURCES,
            default=ReadingSource.TECHNICIAN,
            help_text="Readings a customer sent (customer_ussd, customer_sms) wait for review.",
        )

    @extend_schema(operation_id="readings_list", responses=ReadingSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ReadingSerializer(page, many=True).data)

    @extend_schema(
        operation_id="readings_create",
        request=InputSerializer,
        responses={201: ReadingSerializer},
        description="Accepted at once, or held (`pending_review`, reason in `anomaly`).",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reading = reading_submit(
            meter=data["meter"],
            index=data["index"],
            read_at=data.get("read_at") or timezone.now(),
            source=data["source"],
            submitted_by=request.user,
        )
        return Response(ReadingSerializer(reading).data, status=status.HTTP_201_CREATED)


class ReadingReviewApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="MeterReadingReview")
    class InputSerializer(serializers.Serializer):
        accept = serializers.BooleanField(help_text="true: bill it; false: reject it.")

    @extend_schema(
        operation_id="readings_review", request=InputSerializer, responses=ReadingSerializer
    )
    def post(self, request, reading_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reading = object_or_404(MeterReading.objects.all(), reading_id)
        reading = reading_review(
            reading=reading, accept=serializer.validated_data["accept"], actor=request.user
        )
        return Response(ReadingSerializer(reading).data)


urlpatterns = [
    path("readings/", ReadingListCreateApi.as_view(), name="billing-readings"),
    path(
        "readings/<int:reading_id>/review",
        ReadingReviewApi.as_view(),
        name="billing-reading-review",
    ),
]
