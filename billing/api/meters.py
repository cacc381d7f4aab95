"""Meters, for technicians and managers: list, install, replace.

GET/POST /api/meters/, POST /api/meters/<id>/replace
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
from accounts.permissions import role_required
from billing.api.common import object_or_404
from billing.filters import MeterFilter
from billing.models import Meter, ServiceAccount
from billing.services.onboarding import meter_install
from billing.services.readings import meter_replace

MetersStaff = role_required(Role.TECHNICIAN, Role.MANAGER)
INDEX = {"max_digits": 14, "decimal_places": 3, "min_value": 0}


@extend_schema_serializer(component_name="Meter")
class MeterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField(source="account_id")
    account_number = serializers.CharField(source="account.number")
    serial = serializers.CharField()
    unit = serializers.CharField()
    max_index = serializers.DecimalField(max_digits=14, decimal_places=3)
    initial_index = serializers.DecimalField(max_digits=14, decimal_places=3)
    installed_at = serializers.DateTimeField()
    removed_at = serializers.DateTimeField(allow_null=True)


class MeterListCreateApi(GenericAPIView):
    permission_classes = [MetersStaff]
    queryset = Meter.objects.select_related("account").order_by("id")
    filterset_class = MeterFilter

    @extend_schema_serializer(component_name="MeterInstall")
    class InputSerializer(serializers.Serializer):
        account = serializers.PrimaryKeyRelatedField(queryset=ServiceAccount.objects.all())
        serial = serializers.CharField(max_length=32)
        unit = serializers.CharField(
            max_length=8, required=False, default="", help_text="Default: m3 or kWh by utility."
        )
        max_index = serializers.DecimalField(
            **INDEX,
            default=Decimal(99999),
            help_text="The register wraps to zero after this value.",
        )
        initial_index = serializers.DecimalField(**INDEX, default=Decimal(0))
        installed_at = serializers.DateTimeField(required=False, help_text="Default: now.")

    @extend_schema(operation_id="meters_list", responses=MeterSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MeterSerializer(page, many=True).data)

    @extend_schema(
        operation_id="meters_install", request=InputSerializer, responses={201: MeterSerializer}
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        meter = meter_install(**serializer.validated_data, actor=request.user)
        return Response(MeterSerializer(meter).data, status=status.HTTP_201_CREATED)


class MeterReplaceApi(APIView):
    permission_classes = [MetersStaff]

    @extend_schema_serializer(component_name="MeterReplace")
    class InputSerializer(serializers.Serializer):
        final_index = serializers.DecimalField(
            **INDEX, help_text="The old meter's index when it was taken out."
        )
        new_serial = serializers.CharField(max_length=32)
        new_initial_index = serializers.DecimalField(**INDEX, default=Decimal(0))
        new_max_index = serializers.DecimalField(
            **INDEX, required=False, help_text="Default: the old meter's."
        )
        at = serializers.DateTimeField(required=False, help_text="When the swap was made.")

    @extend_schema(
        operation_id="meters_replace",
        request=InputSerializer,
        responses={201: MeterSerializer},
        description="Records the old meter's final reading, removes it and installs the new "
        "one. Returns the new meter.",
    )
    def post(self, request, meter_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        old = object_or_404(Meter.objects.select_related("account"), meter_id)
        new = meter_replace(
            account=old.account,
            old_meter=old,
            final_index=data["final_index"],
            new_serial=data["new_serial"],
            new_initial_index=data["new_initial_index"],
            new_max_index=data.get("new_max_index"),
            at=data.get("at") or timezone.now(),
            actor=request.user,
        )
        return Response(MeterSerializer(new).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("meters/", MeterListCreateApi.as_view(), name="billing-meters"),
    path("meters/<int:meter_id>/replace", MeterReplaceApi.as_view(), name="billing-meter-replace"),
]
