"""A service account's statement: its last movements with the running balance.

GET /api/accounts/<id>/statement?limit=
"""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsStaffMember
from billing.api.common import MoneyField, object_or_404
from billing.models import JournalKind, ServiceAccount
from billing.selectors import account_balance, account_statement

MAX_LINES = 100


class AccountStatementApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema_serializer(component_name="StatementQuery")
    class FilterSerializer(serializers.Serializer):
        limit = serializers.IntegerField(
            min_value=1, max_value=MAX_LINES, default=10, help_text="How many movements."
        )

    @extend_schema_serializer(component_name="Statement")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="StatementLine")
        class LineSerializer(serializers.Serializer):
            at = serializers.DateTimeField()
            kind = serializers.ChoiceField(choices=JournalKind.choices)
            description = serializers.CharField()
            amount = MoneyField(help_text="+ raises what the customer owes, - lowers it.")
            balance = MoneyField(help_text="What the customer owes after this movement.")

        account = serializers.IntegerField(source="account.pk")
        number = serializers.CharField(source="account.number")
        holder_name = serializers.CharField(source="account.holder_name")
        balance = MoneyField(help_text="What the customer owes now (negative: in credit).")
        lines = LineSerializer(many=True, help_text="Oldest first.")

    @extend_schema(
        operation_id="accounts_statement",
        parameters=[FilterSerializer],
        responses=OutputSerializer,
    )
    def get(self, request, account_id: int):
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account = object_or_404(ServiceAccount.objects.select_related("operator"), account_id)
        statement = {
            "account": account,
            "balance": account_balance(account),
            "lines": account_statement(account, limit=query.validated_data["limit"]),
        }
        return Response(self.OutputSerializer(statement).data)


urlpatterns = [
    path(
        "accounts/<int:account_id>/statement",
        AccountStatementApi.as_view(),
        name="billing-account-statement",
    ),
]
