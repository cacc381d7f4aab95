"""Staff authentication: log in, refresh (rotating), log out, and who the bearer is.

Send the access token as `Authorization: Bearer <access>`. It lives 10 minutes; the refresh
token works once and is traded at /api/auth/refresh for a new pair.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.clientip import client_ip
from accounts.models import Role
from accounts.services.tokens import refresh_token_revoke, token_pair_obtain, token_pair_refresh


class AuthErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, trim_whitespace=False)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=AuthErrorSerializer, description=description)


class _CredentialsInBodyApi(APIView):
    # The body carries the credentials: no session or bearer token is read.
    authentication_classes = []
    permission_classes = [AllowAny]


class AuthLoginApi(_CredentialsInBodyApi):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(help_text="E.164 or local format, e.g. 0712345678.")
        password = serializers.CharField(
            max_length=4096, trim_whitespace=False, style={"input_type": "password"}
        )

        class Meta:
            ref_name = "AuthLoginInput"

    @extend_schema(
        operation_id="auth_login",
        summary="Log in with phone and password",
        request=InputSerializer,
        responses={
            200: TokenPairSerializer,
            401: _error("`invalid_credentials`: unknown phone, wrong password or inactive."),
            429: _error("`rate_limited`: too many attempts from this address; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = token_pair_obtain(**serializer.validated_data, ip=client_ip(request))
        return Response(TokenPairSerializer(pair).data)


class AuthRefreshApi(_CredentialsInBodyApi):
    @extend_schema(
        operation_id="auth_refresh",
        summary="Trade a refresh token for a new pair",
        description="The presented refresh token is used up. Presenting it again is refused "
        "(`token_reused`) and, after a few seconds, revokes every token of its login.",
        request=RefreshInputSerializer,
        responses={
            200: TokenPairSerializer,
            401: _error("`invalid_token`, or `token_reused`: this refresh token was used."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = token_pair_refresh(refresh=serializer.validated_data["refresh"])
        return Response(TokenPairSerializer(pair).data)


class AuthLogoutApi(_CredentialsInBodyApi):
    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: revoke the refresh token and every token rotated from its login",
        request=RefreshInputSerializer,
        responses={204: None, 401: _error("`invalid_token`: bad, expired or revoked token.")},
        auth=[],
    )
    def post(self, request):
        serializer = RefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh_token_revoke(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthMeApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        phone = serializers.CharField()
        name = serializers.CharField()
        role = serializers.ChoiceField(choices=Role.choices)

        class Meta:
            ref_name = "AuthMe"

    @extend_schema(
        operation_id="auth_me",
        summary="The user the access token belongs to",
        responses={200: OutputSerializer, 401: _error("No, or no longer valid, access token.")},
    )
    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)


urlpatterns = [
    path("auth/login", AuthLoginApi.as_view(), name="auth-login"),
    path("auth/refresh", AuthRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", AuthLogoutApi.as_view(), name="auth-logout"),
    path("auth/me", AuthMeApi.as_view(), name="auth-me"),
]
