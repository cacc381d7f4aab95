"""Dunning policies, for managers: stages as data.

GET/POST /api/dunning/policies/, GET/PATCH/DELETE /api/dunning/policies/<id>/

A PATCH that gives `stages` replaces the whole list (stages are matched by `code`; a stage that
has acted on invoices cannot be dropped). Templates use the placeholders listed in the schema.
"""

from django.db.models import Prefetch
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsManager
from billing.api.common import object_or_404
from billing.models import DunningPolicy, DunningStage, Operator, StageMessageKind, Tariff
from billing.services.dunning_messages import PLACEHOLDERS
from billing.services.dunning_policies import (
    StageSpec,
    dunning_policy_create,
    dunning_policy_delete,
    dunning_policy_update,
)

TEMPLATE_HELP = "Placeholders: " + ", ".join(
    f"{{{name}}} ({meaning})" for name, meaning in PLACEHOLDERS.items()
)


@extend_schema_serializer(component_name="DunningStage")
class StageSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=120)
    offset_days = serializers.IntegerField(
        min_value=-60, max_value=365, help_text="Days after the due date (negative: before)."
    )
    message_kind = serializers.ChoiceField(
        choices=StageMessageKind.choices, default=StageMessageKind.REMINDER
    )
    message_en = serializers.CharField(allow_blank=True, default="", help_text=TEMPLATE_HELP)
    message_fr = serializers.CharField(allow_blank=True, default="")
    message_sw = serializers.CharField(allow_blank=True, default="")
    charge_penalty = serializers.BooleanField(default=False)
    suspend_service = serializers.BooleanField(
        default=False, help_text="Cut service: suspension, disconnection work order, meter hook."
    )
    field_visit = serializers.BooleanField(default=False, help_text="A technician's visit.")


@extend_schema_serializer(component_name="DunningPolicy")
class PolicySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    operator = serializers.IntegerField(source="operator_id")
    tariff = serializers.IntegerField(
        source="tariff_id", allow_null=True, help_text="Null: the operator's default policy."
    )
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    stages = StageSerializer(many=True)
    updated_at = serializers.DateTimeField()


def stage_specs(rows: list[dict]) -> list[StageSpec]:
    return [
        StageSpec(
            code=row["code"],
            name=row["name"],
            offset_days=row["offset_days"],
            message_kind=row["message_kind"],
            messages={
                lang: row[f"message_{lang}"]
                for lang in ("en", "fr", "sw")
                if row[f"message_{lang}"]
            },
            charge_penalty=row["charge_penalty"],
            suspend_service=row["suspend_service"],
            field_visit=row["field_visit"],
        )
        for row in rows
    ]


def policies_base():
    stages = DunningStage.objects.order_by("offset_days")
    return DunningPolicy.objects.prefetch_related(Prefetch("stages", queryset=stages)).order_by(
        "operator_id", "id"
    )


class PolicyListCreateApi(GenericAPIView):
    permission_classes = [IsManager]
    queryset = policies_base()

    @extend_schema_serializer(component_name="DunningPolicyCreate")
    class InputSerializer(serializers.Serializer):
        operator = serializers.PrimaryKeyRelatedField(queryset=Operator.objects.all())
        tariff = serializers.PrimaryKeyRelatedField(
            queryset=Tariff.objects.all(), allow_null=True, default=None
        )
        name = serializers.CharField(max_length=120)
        is_active = serializers.BooleanField(default=True)
        stages = StageSerializer(many=True, max_length=12)

    @extend_schema(operation_id="dunning_policies_list", responses=PolicySerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PolicySerializer(page, many=True).data)

    @extend_schema(
        operation_id="dunning_policies_create",
        request=InputSerializer,
        responses={201: PolicySerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        policy = dunning_policy_create(
            operator=data["operator"],
            tariff=data["tariff"],
            name=data["name"],
            is_active=data["is_active"],
            stages=stage_specs(data["stages"]),
            actor=request.user,
        )
        policy = policies_base().get(pk=policy.pk)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailApi(APIView):
    permission_classes = [IsManager]

    @extend_schema_serializer(component_name="DunningPolicyUpdate")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120, required=False)
        is_active = serializers.BooleanField(required=False)
        stages = StageSerializer(many=True, max_length=12, required=False)

    @extend_schema(operation_id="dunning_policies_retrieve", responses=PolicySerializer)
    def get(self, request, policy_id: int):
        return Response(PolicySerializer(object_or_404(policies_base(), policy_id)).data)

    @extend_schema(
        operation_id="dunning_policies_update", request=InputSerializer, responses=PolicySerializer
    )
    def patch(self, request, policy_id: int):
        policy = object_or_404(DunningPolicy.objects.all(), policy_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        dunning_policy_update(
            policy=policy,
            name=data.get("name"),
            is_active=data.get("is_active"),
            stages=stage_specs(data["stages"]) if "stages" in data else None,
            actor=request.user,
        )
        return Response(PolicySerializer(policies_base().get(pk=policy.pk)).data)

    @extend_schema(operation_id="dunning_policies_destroy", responses={204: None})
    def delete(self, request, policy_id: int):
        policy = object_or_404(DunningPolicy.objects.all(), policy_id)
        dunning_policy_delete(policy=policy, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("dunning/policies/", PolicyListCreateApi.as_view(), name="billing-dunning-policies"),
    path(
        "dunning/policies/<int:policy_id>/",
        PolicyDetailApi.as_view(),
        name="billing-dunning-policy",
    ),
]
