"""Staff API of the suspense list (managers): money nobody could match.

GET /api/payments/suspense/, POST /api/payments/suspense/<id>/allocate, POST .../refund
"""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsManager
from payments.api.serializers import ERROR, SuspenseOutput, account_or_error, paginated
from payments.models import Provider, SuspenseStatus
from payments.selectors import suspense_list
from payments.services.suspense import suspense_allocate, suspense_refund_mark


class SuspenseListApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="SuspenseFilter")
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=SuspenseStatus.choices, required=False)
        provider = serializers.ChoiceField(choices=Provider.choices, required=False)

    @extend_schema(
        operation_id="payment_suspense_list",
        parameters=[FilterSerializer],
        responses=SuspenseOutput(many=True),
    )
    def get(self, request):
        """Money nobody could match, oldest first, with candidate accounts."""
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated(self, suspense_list(filters=filters.validated_data), SuspenseOutput)


class SuspenseAllocateApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="SuspenseAllocate")
    class InputSerializer(serializers.Serializer):
        account = serializers.CharField(max_length=20, help_text="The account number.")

    @extend_schema(
        operation_id="payment_suspense_allocate",
        request=InputSerializer,
        responses={
            200: SuspenseOutput,
            409: OpenApiResponse(ERROR, description="`suspense_resolved`."),
        },
    )
    def post(self, request, suspense_id: int):
        """Give the money to an account (credited like a payment, receipt SMS sent)."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = account_or_error(serializer.validated_data["account"])
        suspense = suspense_allocate(suspense_id=suspense_id, account=account, actor=request.user)
        return Response(SuspenseOutput(suspense).data)


class SuspenseRefundApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="SuspenseRefund")
    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=200, required=False, default="")

    @extend_schema(
        operation_id="payment_suspense_refund",
        request=InputSerializer,
        responses={
            200: SuspenseOutput,
            409: OpenApiResponse(ERROR, description="`suspense_resolved`."),
        },
    )
    def post(self, request, suspense_id: int):
        """Mark the money to be sent back to the payer."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        suspense = suspense_refund_mark(
            suspense_id=suspense_id, actor=request.user, note=serializer.validated_data["note"]
        )
        return Response(SuspenseOutput(suspense).data)


urlpatterns = [
    path("suspense/", SuspenseListApi.as_view(), name="payment-suspense"),
    path(
        "suspense/<int:suspense_id>/allocate",
        SuspenseAllocateApi.as_view(),
        name="payment-suspense-allocate",
    ),
    path(
        "suspense/<int:suspense_id>/refund",
        SuspenseRefundApi.as_view(),
        name="payment-suspense-refund",
    ),
]
