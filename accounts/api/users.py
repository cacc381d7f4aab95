"""Staff management of users, for managers and administrators.

GET/POST /api/users/, GET/PATCH /api/users/<id>/, POST /api/users/<id>/password
"""

from django.conf import settings
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import PhoneNumberField
from accounts.models import Role, User
from accounts.permissions import IsManager
from accounts.selectors import user_get, user_list
from accounts.services.users import user_create, user_password_set, user_update


def _user_or_404(user_id: int) -> User:
    user = user_get(user_id=user_id)
    if user is None:
        raise Http404
    return user


class UserDetailApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="StaffUser")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        phone = serializers.CharField()
        name = serializers.CharField()
        role = serializers.ChoiceField(choices=Role.choices)
        language = serializers.CharField()
        is_active = serializers.BooleanField()
        has_usable_password = serializers.BooleanField()
        date_joined = serializers.DateTimeField()
        last_login = serializers.DateTimeField(allow_null=True)

    @extend_schema_serializer(component_name="StaffUserUpdate")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, allow_blank=True, required=False)
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(operation_id="users_retrieve", responses=OutputSerializer)
    def get(self, request, user_id: int):
        return Response(self.OutputSerializer(_user_or_404(user_id)).data)

    @extend_schema(operation_id="users_update", request=InputSerializer, responses=OutputSerializer)
    def patch(self, request, user_id: int):
        # partial: a field left out of a form-encoded body is left alone, not read as false.
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = user_update(
            actor=request.user, user=_user_or_404(user_id), data=serializer.validated_data
        )
        return Response(self.OutputSerializer(user).data)


class UserListCreateApi(APIView):
    permission_classes = [IsManager]
    pagination_class = LimitOffsetPagination

    @extend_schema_serializer(component_name="StaffUserFilter")
    class FilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices, required=False)
        is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
        search = serializers.CharField(
            required=False, max_length=64, help_text="A phone number or part of one, or a name."
        )

    @extend_schema_serializer(component_name="StaffUserCreate")
    class InputSerializer(serializers.Serializer):
        phone = PhoneNumberField(max_length=32, help_text="Any format; stored in E.164.")
        role = serializers.ChoiceField(choices=Role.choices)
        name = serializers.CharField(max_length=150, allow_blank=True, default="")
        language = serializers.ChoiceField(
            choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
        )
        is_active = serializers.BooleanField(default=True)
        password = serializers.CharField(
            max_length=128,
            required=False,
            trim_whitespace=False,
            style={"input_type": "password"},
            help_text="Optional; without one, the user cannot log in with a password.",
        )

    @extend_schema(
        operation_id="users_list",
        parameters=[FilterSerializer],
        responses=UserDetailApi.OutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            user_list(filters=filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(
            UserDetailApi.OutputSerializer(page, many=True).data
        )

    @extend_schema(
        operation_id="users_create",
        request=InputSerializer,
        responses={201: UserDetailApi.OutputSerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(actor=request.user, **serializer.validated_data)
        return Response(UserDetailApi.OutputSerializer(user).data, status=status.HTTP_201_CREATED)


class UserPasswordSetApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="StaffUserPassword")
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(
            max_length=128, trim_whitespace=False, style={"input_type": "password"}
        )

    @extend_schema(
        operation_id="users_password_set",
        request=InputSerializer,
        responses={204: OpenApiResponse(description="Password set; the user's tokens revoked.")},
    )
    def post(self, request, user_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_password_set(
            actor=request.user,
            user=_user_or_404(user_id),
            password=serializer.validated_data["password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("users/", UserListCreateApi.as_view(), name="users"),
    path("users/<int:user_id>/", UserDetailApi.as_view(), name="user-detail"),
    path("users/<int:user_id>/password", UserPasswordSetApi.as_view(), name="user-password"),
]
