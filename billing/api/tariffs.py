"""Tariffs, their effective-dated versions with tiers, and price indexes.

Staff read them (agents pick a tariff when opening an account); managers write them.

GET/POST /api/tariffs/, GET /api/tariffs/<id>/, POST /api/tariffs/<id>/versions,
GET/POST /api/price-indexes/, POST /api/price-indexes/<id>/values
"""

from decimal import Decimal

from django.db.models import Prefetch
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsManager, IsStaffMember
from billing.api.common import MethodPermissions, PeriodField, object_or_404
from billing.filters import TariffFilter
from billing.models import (
    Operator,
    PriceIndex,
    PriceIndexValue,
    Pricing,
    Tariff,
    TariffVersion,
    Utility,
)
from billing.services.catalog import (
    TierSpec,
    VersionSpec,
    price_index_create,
    price_index_value_set,
    tariff_create,
    tariff_version_create,
)

RATE = {"max_digits": 18, "decimal_places": 6}
QUANTITY = {"max_digits": 14, "decimal_places": 3}
ZERO = Decimal(0)


@extend_schema_serializer(component_name="TariffTier")
class TierSerializer(serializers.Serializer):
    up_to = serializers.DecimalField(
        **QUANTITY, allow_null=True, help_text="Upper limit in units; null: unbounded (last)."
    )
    price = serializers.DecimalField(**RATE, help_text="Per unit, in major units.")


@extend_schema_serializer(component_name="TariffVersion")
class VersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    effective_from = serializers.DateField()
    pricing = serializers.ChoiceField(choices=Pricing.choices)
    unit_price = serializers.DecimalField(**RATE, allow_null=True)
    price_index = serializers.IntegerField(source="price_index_id", allow_null=True)
    standing_charge = serializers.DecimalField(**RATE)
    service_fee = serializers.DecimalField(**RATE)
    vat_rate = serializers.DecimalField(max_digits=6, decimal_places=4)
    penalty_percent = serializers.DecimalField(max_digits=6, decimal_places=3)
    penalty_fixed = serializers.DecimalField(**RATE)
    reconnection_fee = serializers.DecimalField(**RATE)
    tiers = TierSerializer(many=True)


@extend_schema_serializer(component_name="TariffVersionCreate")
class VersionInputSerializer(serializers.Serializer):
    effective_from = serializers.DateField(help_text="Applies from this day (prorated by days).")
    pricing = serializers.ChoiceField(choices=Pricing.choices)
    unit_price = serializers.DecimalField(**RATE, required=False, help_text="Flat pricing.")
    price_index = serializers.PrimaryKeyRelatedField(
        queryset=PriceIndex.objects.all(), required=False, help_text="Indexed pricing."
    )
    tiers = TierSerializer(many=True, required=False, help_text="Tiered pricing, in order.")
    standing_charge = serializers.DecimalField(**RATE, default=ZERO)
    service_fee = serializers.DecimalField(**RATE, default=ZERO)
    vat_rate = serializers.DecimalField(
        max_digits=6, decimal_places=4, default=ZERO, help_text="0.16 for 16 %."
    )
    penalty_percent = serializers.DecimalField(max_digits=6, decimal_places=3, default=ZERO)
    penalty_fixed = serializers.DecimalField(**RATE, default=ZERO)
    reconnection_fee = serializers.DecimalField(**RATE, default=ZERO)


def version_spec(data: dict) -> VersionSpec:
    """A validated VersionInputSerializer's data as the service's VersionSpec."""
    data = dict(data)
    tiers = tuple(TierSpec(tier["up_to"], tier["price"]) for tier in data.pop("tiers", ()))
    return VersionSpec(**data, tiers=tiers)


@extend_schema_serializer(component_name="Tariff")
class TariffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator = serializers.IntegerField(source="operator_id")
    code = serializers.CharField()
    name = serializers.CharField()
    utility = serializers.ChoiceField(choices=Utility.choices)
    versions = VersionSerializer(many=True)


def tariffs_base():
    versions = TariffVersion.objects.prefetch_related("tiers").order_by("effective_from")
    return Tariff.objects.prefetch_related(Prefetch("versions", queryset=versions)).order_by("id")


class TariffListCreateApi(MethodPermissions, GenericAPIView):
    permission_classes = [IsStaffMember]
    permissions_by_method = {"GET": [IsStaffMember], "POST": [IsManager]}
    queryset = tariffs_base()
    filterset_class = TariffFilter

    @extend_schema_serializer(component_name="TariffCreate")
    class InputSerializer(serializers.Serializer):
        operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.all())
        code = serializers.CharField(max_length=32)
        name = serializers.CharField(max_length=120)
        utility = serializers.ChoiceField(choices=Utility.choices)
        version = VersionInputSerializer(help_text="The first version.")

    @extend_schema(operation_id="tariffs_list", responses=TariffSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TariffSerializer(page, many=True).data)

    @extend_schema(
        operation_id="tariffs_create", request=InputSerializer, responses={201: TariffSerializer}
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tariff = tariff_create(
            operator=data["operator"],
            code=data["code"],
            name=data["name"],
            utility=data["utility"],
            version=version_spec(data["version"]),
            actor=request.user,
        )
        tariff = tariffs_base().get(pk=tariff.pk)
        return Response(TariffSerializer(tariff).data, status=status.HTTP_201_CREATED)


class TariffDetailApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(operation_id="tariffs_retrieve", responses=TariffSerializer)
    def get(self, request, tariff_id: int):
        return Response(TariffSerializer(object_or_404(tariffs_base(), tariff_id)).data)


class TariffVersionCreateApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        operation_id="tariffs_versions_create",
        request=VersionInputSerializer,
        responses={201: VersionSerializer},
        description="Must start after every period already invoiced on the tariff.",
    )
    def post(self, request, tariff_id: int):
        tariff = object_or_404(Tariff.objects.all(), tariff_id)
        serializer = VersionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = tariff_version_create(
            tariff=tariff, spec=version_spec(serializer.validated_data), actor=request.user
        )
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


@extend_schema_serializer(component_name="PriceIndexValue")
class IndexValueSerializer(serializers.Serializer):
    month = PeriodField()
    price = serializers.DecimalField(**RATE, min_value=ZERO, help_text="Per unit, major units.")


@extend_schema_serializer(component_name="PriceIndex")
class PriceIndexSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator = serializers.IntegerField(source="operator_id")
    name = serializers.CharField()
    values = IndexValueSerializer(many=True, help_text="Newest month first.")


def indexes_base():
    values = PriceIndexValue.objects.order_by("-month")
    return PriceIndex.objects.prefetch_related(Prefetch("values", queryset=values)).order_by("id")


class PriceIndexListCreateApi(MethodPermissions, GenericAPIView):
    permission_classes = [IsStaffMember]
    permissions_by_method = {"GET": [IsStaffMember], "POST": [IsManager]}
    queryset = indexes_base()
    filterset_fields = ["operator"]

    @extend_schema_serializer(component_name="PriceIndexCreate")
    class InputSerializer(serializers.Serializer):
        operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.all())
        name = serializers.CharField(max_length=64)

    @extend_schema(operation_id="price_indexes_list", responses=PriceIndexSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PriceIndexSerializer(page, many=True).data)

    @extend_schema(
        operation_id="price_indexes_create",
        request=InputSerializer,
        responses={201: PriceIndexSerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        index = price_index_create(**serializer.validated_data, actor=request.user)
        data = PriceIndexSerializer(indexes_base().get(pk=index.pk)).data
        return Response(data, status=status.HTTP_201_CREATED)


class PriceIndexValueSetApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        operation_id="price_indexes_values_set",
        request=IndexValueSerializer,
        responses={200: IndexValueSerializer, 201: IndexValueSerializer},
        description="Sets a month's price (201 new, 200 changed). Refused once the month was "
        "invoiced with it.",
    )
    def post(self, request, index_id: int):
        index = object_or_404(PriceIndex.objects.all(), index_id)
        serializer = IndexValueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        value, created = price_index_value_set(
            index=index, **serializer.validated_data, actor=request.user
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(IndexValueSerializer(value).data, status=code)


urlpatterns = [
    path("tariffs/", TariffListCreateApi.as_view(), name="billing-tariffs"),
    path("tariffs/<int:tariff_id>/", TariffDetailApi.as_view(), name="billing-tariff"),
    path(
        "tariffs/<int:tariff_id>/versions",
        TariffVersionCreateApi.as_view(),
        name="billing-tariff-versions",
    ),
    path("price-indexes/", PriceIndexListCreateApi.as_view(), name="billing-price-indexes"),
    path(
        "price-indexes/<int:index_id>/values",
        PriceIndexValueSetApi.as_view(),
        name="billing-price-index-values",
    ),
]
