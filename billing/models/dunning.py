"""Dunning (reminders before and after the due date) and service control.

A policy (per operator, or per tariff) is a list of stages, each `offset_days` from an
invoice's due date with its actions. The daily run records one DunningEvent per (invoice,
stage) under a unique constraint: whatever runs twice, a stage acts once. Disputes and
instalment plans pause dunning; suspensions, work orders and the meter-command hook cut and
restore service (billing.services.dunning, service_control, instalments).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models.customers import ServiceAccount
from billing.models.invoices import Invoice
from billing.models.operator import Operator
from billing.money import CURRENCY_CHOICES

USER = settings.AUTH_USER_MODEL


class DunningPolicy(models.Model):
    """How an operator (tariff None: its default) or one tariff reminds and cuts off.

    An inactive tariff policy is ignored (the tariff follows the operator's default); an
    inactive default policy switches dunning off for the operator's other tariffs.
    """

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    tariff = models.ForeignKey(
        "billing.Tariff", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(
                fields=["operator"], condition=Q(tariff__isnull=True), name="uniq_dunning_default"
            ),
            models.UniqueConstraint(
                fields=["tariff"], condition=Q(tariff__isnull=False), name="uniq_dunning_tariff"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StageMessageKind(models.TextChoices):
    """Outbox kinds a stage may send (sms.models.MessageKind)."""

    REMINDER = "reminder", "Reminder"
    NOTICE = "notice", "Notice"


class DunningStage(models.Model):
    """What happens `offset_days` after the due date (negative: before it).

    Messages are templates with placeholders (billing.services.dunning_messages); an empty
    template for a language falls back to English, and a stage without any sends nothing.
    """

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="stages")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=120)
    offset_days = models.SmallIntegerField()
    message_kind = models.CharField(
        max_length=16, choices=StageMessageKind.choices, default=StageMessageKind.REMINDER
    )
    message_en = models.TextField(blank=True)
    message_fr = models.TextField(blank=True)
    message_sw = models.TextField(blank=True)
    charge_penalty = models.BooleanField(default=False)
    suspend_service = models.BooleanField(default=False)
    # A technician's visit (a notice delivered by hand); suspending makes its own work order.
    field_visit = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy", "offset_days"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "code"], name="uniq_dunning_stage_code"),
            models.UniqueConstraint(
                fields=["policy", "offset_days"], name="uniq_dunning_stage_offset"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} (D{self.offset_days:+d})"


class DunningEvent(models.Model):
    """A stage reached by an invoice: once, ever (unique). `superseded`: a later stage was due
    too when it was reached, so its message was not sent (its other actions were taken)."""

    # No index of their own for invoice and account: the unique (invoice, stage) and the
    # (account, created_at) index lead with them (a daily run writes a million events).
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="dunning_events", db_index=False
    )
    stage = models.ForeignKey(DunningStage, on_delete=models.PROTECT, related_name="events")
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    run_date = models.DateField()
    superseded = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "stage"], name="uniq_dunning_event")
        ]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.invoice_id} at {self.stage_id}"


class DunningRun(models.Model):
    """One operator's daily run (its local date): the beat task runs each day once."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    run_date = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "run_date"], name="uniq_dunning_run")
        ]

    def __str__(self) -> str:
        return f"{self.operator_id} {self.run_date}"


class Dispute(models.Model):
    """A customer contests what the account is billed: dunning pauses while one is open."""

    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255)
    opened_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(closed_at__isnull=True), name="uniq_open_dispute"
            )
        ]

    def __str__(self) -> str:
        return f"dispute on {self.account_id}"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    BROKEN = "broken", "Broken (an instalment was missed)"


class InstalmentPlan(models.Model):
    """Overdue invoices (`invoices`) paid in instalments agreed by a manager."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default="active")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    total_minor = models.BigIntegerField()
    invoices = models.ManyToManyField(Invoice, related_name="+")
    agreed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    agreed_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="active"), name="uniq_active_plan"
            )
        ]

    def __str__(self) -> str:
        return f"plan {self.pk} on {self.account_id}"


class Instalment(models.Model):
    plan = models.ForeignKey(InstalmentPlan, on_delete=models.CASCADE, related_name="instalments")
    position = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    amount_minor = models.BigIntegerField()

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="uniq_instalment_position"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="instalment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.position} {self.due_date}"


class SuspensionReason(models.TextChoices):
    DUNNING = "dunning", "Unpaid invoice (dunning stage)"
    PLAN_BROKEN = "plan_broken", "Instalment plan broken"


class Suspension(models.Model):
    """Service cut by rule. At most one open per account; only these are restored by rule."""

    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=SuspensionReason.choices)
    event = models.OneToOneField(
        DunningEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan = models.OneToOneField(
        InstalmentPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # "paid" (balance settled) or "plan" (an instalment plan agreed).
    ended_reason = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(ended_at__isnull=True), name="uniq_open_suspension"
            )
        ]

    def __str__(self) -> str:
        return f"suspension of {self.account_id} ({self.reason})"


class WorkOrderKind(models.TextChoices):
    DISCONNECT = "disconnect", "Disconnect"
    RECONNECT = "reconnect", "Reconnect"
    VISIT = "visit", "Field visit"


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def transitions(cls) -> dict[str, set[str]]:
        return {cls.OPEN: {cls.DONE, cls.CANCELLED}, cls.DONE: set(), cls.CANCELLED: set()}


class WorkOrder(models.Model):
    """A job for technicians. A meter-command hook that acts remotely completes it itself."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(ServiceAccount, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=WorkOrderKind.choices)
    status = models.CharField(
        max_length=16, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN
    )
    reason = models.CharField(max_length=255)
    suspension = models.ForeignKey(
        Suspension, null=True, blank=True, on_delete=models.PROTECT, related_name="work_orders"
    )
    event = models.ForeignKey(
        DunningEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            # One work order of a kind per suspension and per dunning event: replays add none.
            models.UniqueConstraint(
                fields=["suspension", "kind"],
                condition=Q(suspension__isnull=False),
                name="uniq_work_order_suspension",
            ),
            models.UniqueConstraint(
                fields=["event", "kind"],
                condition=Q(event__isnull=False),
                name="uniq_work_order_event",
            ),
        ]
        indexes = [models.Index(fields=["status", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} ({self.status})"
