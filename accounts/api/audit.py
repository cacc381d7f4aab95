"""The audit trail, read-only, for managers and administrators: GET /api/audit/.

There is no endpoint that changes or deletes an event, and the admin shows events read-only.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import APIView

from accounts.permissions import IsManager
from accounts.selectors import audit_event_list


class AuditEventListApi(APIView):
    permission_classes = [IsManager]
    pagination_class = LimitOffsetPagination

    @extend_schema_serializer(component_name="AuditEventFilter")
    class FilterSerializer(serializers.Serializer):
        actor = serializers.IntegerField(required=False, min_value=1, help_text="A user id.")
        action = serializers.CharField(required=False, max_length=64)
        object_type = serializers.CharField(required=False, max_length=64)
        object_id = serializers.CharField(required=False, max_length=64)
        at__gte = serializers.DateTimeField(required=False, help_text="At or after (ISO 8601).")
        at__lte = serializers.DateTimeField(required=False, help_text="At or before (ISO 8601).")

        def validate(self, attrs):
            start, end = attrs.get("at__gte"), attrs.get("at__lte")
            if start and end and start > end:
                raise serializers.ValidationError({"at__lte": "Must not be before at__gte."})
            return attrs

    @extend_schema_serializer(component_name="AuditEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        at = serializers.DateTimeField()
        actor = serializers.IntegerField(source="actor_id", allow_null=True)
        actor_phone = serializers.CharField(source="actor.phone", allow_null=True)
        actor_role = serializers.CharField()
        action = serializers.CharField()
        object_type = serializers.CharField()
        object_id = serializers.CharField()
        before = serializers.JSONField(allow_null=True)
        after = serializers.JSONField(allow_null=True)
        ip = serializers.IPAddressField(allow_null=True)
        request_method = serializers.CharField()
        request_path = serializers.CharField()

    @extend_schema(
        operation_id="audit_list",
        parameters=[FilterSerializer],
        responses=OutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            audit_event_list(filters=filters.validated_data), request, view=self
        )
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


urlpatterns = [
    path("audit/", AuditEventListApi.as_view(), name="audit-events"),
]
