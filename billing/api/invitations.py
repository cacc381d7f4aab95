"""Invitation codes for linking a phone to an account by USSD, issued by staff.

POST /api/accounts/<id>/invitations (agents, managers): the code is in this response only;
it is never stored in clear and cannot be read again (issue a new one to replace it).
"""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import role_required
from billing.api.common import object_or_404
from billing.models import ServiceAccount
from billing.services.invitations import account_invitation_issue


class AccountInvitationCreateApi(APIView):
    permission_classes = [role_required(Role.AGENT, Role.MANAGER)]

    @extend_schema_serializer(component_name="AccountInvitation")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        account = serializers.IntegerField(source="invitation.account_id")
        account_number = serializers.CharField(source="invitation.account.number")
        code = serializers.CharField(help_text="Print it on the letter; shown only here, once.")
        expires_at = serializers.DateTimeField(source="invitation.expires_at")

    @extend_schema(
        operation_id="accounts_invitations_create",
        request=None,
        responses={201: OutputSerializer},
        description="Issue a one-time code with which the customer links a phone to this "
        "account by USSD. Older codes of the account stop working.",
    )
    def post(self, request, account_id: int):
        account = object_or_404(ServiceAccount.objects.select_related("operator"), account_id)
        issued = account_invitation_issue(account=account, actor=request.user)
        data = self.OutputSerializer(
            {"id": issued.invitation.id, "invitation": issued.invitation, "code": issued.code}
        ).data
        response = Response(data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    path(
        "accounts/<int:account_id>/invitations",
        AccountInvitationCreateApi.as_view(),
        name="billing-account-invitations",
    ),
]
