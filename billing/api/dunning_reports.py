"""The arrears ageing report, as JSON (paged) or CSV (every account, streamed).

GET /api/reports/arrears-ageing/?operator=<id>, GET /api/reports/arrears-ageing.csv?operator=<id>
"""

import csv
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_required
from billing.api.common import MoneyField, money_data
from billing.models import Operator
from billing.money import Money
from billing.services.dunning_reports import BUCKETS, arrears_ageing, arrears_ageing_totals

CSV_HEADER = ["account", "holder_name", "zone", *(label for _, label, _, _ in BUCKETS), "total"]


class QuerySerializer(serializers.Serializer):
    operator = serializers.PrimaryKeyRelatedField(
        queryset=Operator.objects.all(), help_text="The operator (one currency per report)."
    )


@extend_schema_serializer(component_name="AgeingBuckets")
class BucketsSerializer(serializers.Serializer):
    days_0_30 = MoneyField(help_text="Open 1 to 30 days past the due date.")
    days_31_60 = MoneyField(help_text="Open 31 to 60 days past the due date.")
    days_61_90 = MoneyField(help_text="Open 61 to 90 days past the due date.")
    days_90_plus = MoneyField(help_text="Open more than 90 days past the due date.")
    total = MoneyField()


@extend_schema_serializer(component_name="AgeingRow")
class RowSerializer(BucketsSerializer):
    account = serializers.IntegerField()
    account_number = serializers.CharField()
    holder_name = serializers.CharField()
    zone = serializers.CharField()


def _money(row: dict, currency: str) -> dict:
    names = [name for name, _, _, _ in BUCKETS] + ["total"]
    return {name: money_data(Money(int(row[name] or 0), currency)) for name in names}


def _setup(request) -> tuple[Operator, object]:
    query = QuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    operator = query.validated_data["operator"]
    return operator, timezone.localdate(timezone=ZoneInfo(operator.timezone))


class ArrearsAgeingApi(APIView):
    permission_classes = [role_required(Role.AGENT, Role.MANAGER)]

    @extend_schema_serializer(component_name="ArrearsAgeing")
    class OutputSerializer(serializers.Serializer):
        operator = serializers.IntegerField()
        as_of = serializers.DateField()
        currency = serializers.CharField()
        totals = BucketsSerializer()
        count = serializers.IntegerField(help_text="Accounts in arrears.")
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = RowSerializer(many=True)

    @extend_schema(
        operation_id="reports_arrears_ageing",
        parameters=[
            QuerySerializer,
            OpenApiParameter("limit", int, description="Accounts per page."),
            OpenApiParameter("offset", int, description="Accounts to skip."),
        ],
        responses=OutputSerializer,
    )
    def get(self, request):
        operator, as_of = _setup(request)
        currency, paginator = operator.currency, LimitOffsetPagination()
        page = paginator.paginate_queryset(arrears_ageing(operator=operator, as_of=as_of), request)
        rows = [
            {
                "account": row["account_id"],
                "account_number": row["account__number"],
                "holder_name": row["account__holder_name"],
                "zone": row["account__zone"],
                **_money(row, currency),
            }
            for row in page
        ]
        return Response(
            {
                "operator": operator.pk,
                "as_of": as_of,
                "currency": currency,
                "totals": _money(arrears_ageing_totals(operator=operator, as_of=as_of), currency),
                "count": paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": rows,
            }
        )


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def _cell(text: str) -> str:
    """Text a spreadsheet never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


class ArrearsAgeingCsvApi(APIView):
    permission_classes = [role_required(Role.AGENT, Role.MANAGER)]
    renderer_classes = [CsvRenderer]

    def handle_exception(self, exc):
        """Errors in the API's one JSON shape."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="reports_arrears_ageing_csv",
        parameters=[QuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One line per account in arrears; amounts in major units.",
            )
        },
    )
    def get(self, request):
        operator, as_of = _setup(request)
        writer = csv.writer(_Echo())
        names = [name for name, _, _, _ in BUCKETS] + ["total"]

        def lines():
            yield writer.writerow(CSV_HEADER)
            for row in arrears_ageing(operator=operator, as_of=as_of).iterator(chunk_size=2000):
                amounts = [f"{Money(int(row[n] or 0), operator.currency).amount:f}" for n in names]
                texts = [row["account__holder_name"], row["account__zone"]]
                yield writer.writerow([row["account__number"], *map(_cell, texts), *amounts])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        filename = f"arrears-ageing-{operator.slug}-{as_of:%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


urlpatterns = [
    path("reports/arrears-ageing/", ArrearsAgeingApi.as_view(), name="billing-arrears-ageing"),
    path(
        "reports/arrears-ageing.csv",
        ArrearsAgeingCsvApi.as_view(),
        name="billing-arrears-ageing-csv",
    ),
]
