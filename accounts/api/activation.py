"""Public endpoints that turn a phone number into an active account: register, resend, activate.

Answers never reveal whether a number already belongs to a customer.
"""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import PhoneNumberField
from accounts.clientip import client_ip
from accounts.ratelimit import Limit, limit_enforce
from accounts.services.activation import CODE_TTL, RESEND_COOLDOWN, activation_code_verify
from sms.notifications import activation_code_send

# Requests per client IP address. Gateways (SMS, USSD) call the services with no IP: no limit.
REGISTER_IP_LIMIT = Limit(scope="auth-register-ip", count=10, seconds=60)
RESEND_IP_LIMIT = Limit(scope="auth-resend-ip", count=5, seconds=60)
ACTIVATE_IP_LIMIT = Limit(scope="auth-activate-ip", count=20, seconds=60)

_ERROR = inline_serializer(
    name="ActivationError",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "extra": serializers.DictField(),
    },
)
_RETRY_AFTER = OpenApiParameter(
    name="Retry-After",
    type=OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[status.HTTP_429_TOO_MANY_REQUESTS],
    description="Seconds to wait before trying again.",
)
_SEND_ERRORS = {
    400: OpenApiResponse(_ERROR, description="`invalid`: see `extra.fields.phone`."),
    429: OpenApiResponse(
        _ERROR,
        description=(
            "`rate_limited`: too many requests from this IP address. "
            "`resend_cooldown`: a code was sent less than a minute ago. "
            "`send_quota`: 3 codes per 15 minutes or 5 per 24 hours were sent to this phone. "
            "`locked`: too many wrong codes; the phone is locked for an hour. "
            "Each comes with Retry-After."
        ),
    ),
}


class CodeSentOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ActivationCodeSent"

    status = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")
    resend_after = serializers.IntegerField(help_text="Seconds before a new code may be asked.")


class PhoneInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ActivationPhone"

    phone = PhoneNumberField()


def _code_requested(request, *, limit: Limit) -> Response:
    ip = client_ip(request)
    limit_enforce(limit, ip)
    serializer = PhoneInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    activation_code_send(phone=serializer.validated_data["phone"], ip=ip)
    data = {
        "status": "code_sent",
        "expires_in": int(CODE_TTL.total_seconds()),
        "resend_after": int(RESEND_COOLDOWN.total_seconds()),
    }
    return Response(CodeSentOutputSerializer(data).data, status=status.HTTP_202_ACCEPTED)


class _PublicApi(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)


class RegisterApi(_PublicApi):
    @extend_schema(
        operation_id="auth_register",
        tags=["auth"],
        request=PhoneInputSerializer,
        responses={202: CodeSentOutputSerializer, **_SEND_ERRORS},
        parameters=[_RETRY_AFTER],
    )
    def post(self, request):
        """Register a phone number: an SMS code is sent to prove it.

        The answer is the same whether the number is new, registered but not yet activated
        (a new code replaces the old one) or already active (its owner is told instead).
        """
        return _code_requested(request, limit=REGISTER_IP_LIMIT)


class ResendApi(_PublicApi):
    @extend_schema(
        operation_id="auth_resend",
        tags=["auth"],
        request=PhoneInputSerializer,
        responses={202: CodeSentOutputSerializer, **_SEND_ERRORS},
        parameters=[_RETRY_AFTER],
    )
    def post(self, request):
        """Send a new code; codes sent to the phone before it stop working.

        Works and answers exactly as register does (a number never seen is registered), so
        nothing tells who has an account; only the per-IP limit is tighter.
        """
        return _code_requested(request, limit=RESEND_IP_LIMIT)


class ActivateApi(_PublicApi):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ActivateInput"

        phone = PhoneNumberField()
        code = serializers.RegexField(r"^\d{6}$", help_text="The 6-digit code from the SMS.")
        password = serializers.CharField(
            write_only=True, trim_whitespace=False, style={"input_type": "password"}
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ActivateOutput"

        status = serializers.CharField()

    @extend_schema(
        operation_id="auth_activate",
        tags=["auth"],
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(
                _ERROR,
                description=(
                    "`invalid`: a field is wrong; `extra.fields` names it (a password too "
                    "weak is reported under `password`). "
                    "`invalid_code`: wrong code, or no code pending for this phone. "
                    "`code_expired`: the code is older than 10 minutes. "
                    "`too_many_attempts`: 5 wrong tries burned the code; ask for a new one."
                ),
            ),
            429: OpenApiResponse(
                _ERROR,
                description=(
                    "`locked`: 10 wrong codes in a row lock the phone for an hour. "
                    "`rate_limited`: too many requests from this IP address. "
                    "Each comes with Retry-After."
                ),
            ),
        },
        parameters=[_RETRY_AFTER],
    )
    def post(self, request):
        """Prove a phone number with its SMS code and choose a password; the account is active.

        A code works once. Only the latest code sent to the phone works.
        """
        limit_enforce(ACTIVATE_IP_LIMIT, client_ip(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        activation_code_verify(**serializer.validated_data)
        return Response(self.OutputSerializer({"status": "active"}).data)


urlpatterns = [
    path("auth/register", RegisterApi.as_view(), name="auth-register"),
    path("auth/resend", ResendApi.as_view(), name="auth-resend"),
    path("auth/activate", ActivateApi.as_view(), name="auth-activate"),
]
