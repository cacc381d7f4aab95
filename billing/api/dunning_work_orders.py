"""Work orders for technicians: disconnections, reconnections and visits made by dunning.

GET /api/work-orders/, POST /api/work-orders/<id>/complete/
"""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_required
from billing.api.common import object_or_404
from billing.models import WorkOrder, WorkOrderKind, WorkOrderStatus
from billing.services.service_control import work_order_complete

FieldStaff = role_required(Role.TECHNICIAN, Role.MANAGER)


@extend_schema_serializer(component_name="WorkOrder")
class WorkOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=WorkOrderKind.choices)
    status = serializers.ChoiceField(choices=WorkOrderStatus.choices)
    account = serializers.IntegerField(source="account_id")
    account_number = serializers.CharField(source="account.number")
    holder_name = serializers.CharField(source="account.holder_name")
    address = serializers.CharField(source="account.address")
    zone = serializers.CharField(source="account.zone")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    completed_by = serializers.IntegerField(source="completed_by_id", allow_null=True)
    notes = serializers.CharField()


class WorkOrderListApi(GenericAPIView):
    permission_classes = [FieldStaff]
    queryset = WorkOrder.objects.select_related("account").order_by("-created_at", "-id")

    @extend_schema_serializer(component_name="WorkOrderQuery")
    class QuerySerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=WorkOrderStatus.choices, required=False)
        kind = serializers.ChoiceField(choices=WorkOrderKind.choices, required=False)
        zone = serializers.CharField(max_length=64, required=False)
        account = serializers.IntegerField(min_value=1, required=False)

    @extend_schema(
        operation_id="work_orders_list",
        parameters=[QuerySerializer],
        responses=WorkOrderSerializer(many=True),
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        where = {
            {"zone": "account__zone", "account": "account_id"}.get(key, key): value
            for key, value in query.validated_data.items()
        }
        page = self.paginate_queryset(self.get_queryset().filter(**where))
        return self.get_paginated_response(WorkOrderSerializer(page, many=True).data)


class WorkOrderCompleteApi(APIView):
    permission_classes = [FieldStaff]

    @extend_schema_serializer(component_name="WorkOrderComplete")
    class InputSerializer(serializers.Serializer):
        notes = serializers.CharField(max_length=2000, allow_blank=True, default="")

    @extend_schema(
        operation_id="work_orders_complete", request=InputSerializer, responses=WorkOrderSerializer
    )
    def post(self, request, work_order_id: int):
        order = object_or_404(WorkOrder.objects.select_related("account"), work_order_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = work_order_complete(
            work_order=order, actor=request.user, notes=serializer.validated_data["notes"]
        )
        return Response(WorkOrderSerializer(order).data)


urlpatterns = [
    path("work-orders/", WorkOrderListApi.as_view(), name="billing-work-orders"),
    path(
        "work-orders/<int:work_order_id>/complete/",
        WorkOrderCompleteApi.as_view(),
        name="billing-work-order-complete",
    ),
]
