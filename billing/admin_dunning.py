"""The Django admin for dunning (policies and their stages, events, runs, disputes, instalment
plans, suspensions, work orders): read-only, because it changes through the staff API, which
checks message templates and keeps the schedule consistent. Registered by billing.admin."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from billing.admin_base import ReadOnlyInline
from billing.models import (
    Dispute,
    DunningEvent,
    DunningPolicy,
    DunningRun,
    DunningStage,
    Instalment,
    InstalmentPlan,
    Suspension,
    WorkOrder,
)


class DunningStageInline(ReadOnlyInline):
    model = DunningStage
    fields = ("code", "name", "offset_days", "message_kind", "charge_penalty", "suspend_service")


@admin.register(DunningPolicy)
class DunningPolicyAdmin(ReadOnlyAdmin):
    list_display = ("name", "operator", "tariff", "is_active", "updated_at")
    list_filter = ("is_active",)
    list_select_related = ("operator", "tariff")
    search_fields = ("name",)
    inlines = (DunningStageInline,)


@admin.register(DunningStage)
class DunningStageAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "policy", "offset_days", "charge_penalty", "suspend_service")
    list_filter = ("charge_penalty", "suspend_service", "field_visit")
    list_select_related = ("policy",)
    search_fields = ("code", "name")


@admin.register(DunningEvent)
class DunningEventAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "stage", "account", "run_date", "superseded")
    list_filter = ("superseded", "stage__code")
    list_select_related = ("invoice", "stage", "account")
    search_fields = ("invoice__number", "account__number")
    date_hierarchy = "run_date"


@admin.register(DunningRun)
class DunningRunAdmin(ReadOnlyAdmin):
    list_display = ("operator", "run_date", "started_at", "finished_at")
    list_select_related = ("operator",)
    date_hierarchy = "run_date"


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("account", "reason", "opened_at", "closed_at")
    list_select_related = ("account",)
    search_fields = ("account__number", "reason")


class InstalmentInline(ReadOnlyInline):
    model = Instalment
    fields = ("position", "due_date", "amount_minor")


@admin.register(InstalmentPlan)
class InstalmentPlanAdmin(ReadOnlyAdmin):
    list_display = ("account", "status", "total_minor", "currency", "agreed_at", "ended_at")
    list_filter = ("status",)
    list_select_related = ("account",)
    search_fields = ("account__number",)
    inlines = (InstalmentInline,)


@admin.register(Instalment)
class InstalmentAdmin(ReadOnlyAdmin):
    list_display = ("plan", "position", "due_date", "amount_minor")
    list_select_related = ("plan",)


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyAdmin):
    list_display = ("account", "reason", "started_at", "ended_at", "ended_reason")
    list_filter = ("reason",)
    list_select_related = ("account",)
    search_fields = ("account__number",)


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "status", "reason", "created_at", "completed_at")
    list_filter = ("kind", "status")
    list_select_related = ("account",)
    search_fields = ("account__number",)
