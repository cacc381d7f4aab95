"""Dunning policies as data: the default policy, and managers' edits.

Every operator has a default policy (tariff None), created with DEFAULT_STAGES the first time
its dunning runs (`dunning_policy_default_ensure`); managers edit it or add a policy for one
tariff. A stage that has acted on invoices keeps its history: it can be changed but not
removed (StageInUse), and the default policy is switched off rather than deleted.
"""

from dataclasses import asdict, dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.models import DunningEvent, DunningPolicy, DunningStage, Operator, Tariff
from billing.services.dunning_messages import LANGUAGES, InvalidTemplate, template_check

OFFSET_RANGE = (-60, 365)
MAX_STAGES = 12


class InvalidPolicy(ApplicationError):
    code = "invalid_dunning_policy"
    message = "The dunning policy is not valid."


class PolicyExists(ApplicationError):
    code = "dunning_policy_exists"
    message = "This operator or tariff already has a dunning policy."
    http_status = 409


class StageInUse(ApplicationError):
    code = "dunning_stage_in_use"
    message = "A stage that has acted on invoices cannot be removed; change it instead."
    http_status = 409


class DefaultPolicyRequired(ApplicationError):
    code = "dunning_default_policy"
    message = "The operator's default policy cannot be deleted; switch it off instead."
    http_status = 409


@dataclass(frozen=True)
class StageSpec:
    code: str
    name: str
    offset_days: int
    message_kind: str = "reminder"
    messages: dict[str, str] = field(default_factory=dict)  # language -> template
    charge_penalty: bool = False
    suspend_service: bool = False
    field_visit: bool = False


DEFAULT_STAGES = (
    StageSpec(
        code="due-soon",
        name="Bill due soon",
        offset_days=-7,
        messages={
            "en": "{operator}: bill {invoice} of {amount} for account {account} is due on "
            "{due_date}. Pay via paybill {paybill}, account {account}, or dial {ussd}.",
            "fr": "{operator} : la facture {invoice} de {amount} du compte {account} est à "
            "payer avant le {due_date}. Payez par paybill {paybill}, compte {account}, ou "
            "composez {ussd}.",
            "sw": "{operator}: bili {invoice} ya {amount} kwa akaunti {account} inalipwa "
            "{due_date}. Lipa kupitia paybill {paybill}, akaunti {account}, au piga {ussd}.",
        },
    ),
    StageSpec(
        code="reminder",
        name="Reminder",
        offset_days=3,
        messages={
            "en": "{operator}: bill {invoice} for account {account} was due on {due_date}. "
            "{amount} is still unpaid. Pay via paybill {paybill} or dial {ussd}.",
            "fr": "{operator} : la facture {invoice} du compte {account} était due le "
            "{due_date}. Reste à payer : {amount}. Payez par paybill {paybill} ou composez "
            "{ussd}.",
            "sw": "{operator}: bili {invoice} ya akaunti {account} ilipaswa kulipwa "
            "{due_date}. Bado unadaiwa {amount}. Lipa kupitia paybill {paybill} au piga {ussd}.",
        },
    ),
    StageSpec(
        code="late-penalty",
        name="Reminder and late-payment penalty",
        offset_days=7,
        charge_penalty=True,
        messages={
            "en": "{operator}: a late-payment penalty was added to account {account}. You now "
            "owe {amount} on bill {invoice}. Pay via paybill {paybill} or dial {ussd} to avoid "
            "disconnection.",
            "fr": "{operator} : une pénalité de retard a été ajoutée au compte {account}. Vous "
            "devez {amount} sur la facture {invoice}. Payez par paybill {paybill} ou composez "
            "{ussd} pour éviter la coupure.",
            "sw": "{operator}: adhabu ya kuchelewa imeongezwa kwenye akaunti {account}. Sasa "
            "unadaiwa {amount} kwa bili {invoice}. Lipa kupitia paybill {paybill} au piga "
            "{ussd} kuepuka kukatiwa huduma.",
        },
    ),
    StageSpec(
        code="final-notice",
        name="Final notice and disconnection",
        offset_days=14,
        message_kind="notice",
        suspend_service=True,
        messages={
            "en": "{operator}: FINAL NOTICE. Bill {invoice} ({amount}) for account {account} "
            "is unpaid; service is being disconnected. Pay via paybill {paybill} or dial "
            "{ussd} to be reconnected.",
            "fr": "{operator} : DERNIER AVIS. La facture {invoice} ({amount}) du compte "
            "{account} est impayée ; le service est suspendu. Payez par paybill {paybill} ou "
            "composez {ussd} pour être reconnecté.",
            "sw": "{operator}: TAARIFA YA MWISHO. Bili {invoice} ({amount}) ya akaunti "
            "{account} haijalipwa; huduma inakatwa. Lipa kupitia paybill {paybill} au piga "
            "{ussd} ili kuunganishwa tena.",
        },
    ),
)


def stages_check(stages: list[StageSpec]) -> None:
    """Codes and offsets unique, offsets in range, templates valid, English given if any."""
    if len(stages) > MAX_STAGES:
        raise InvalidPolicy(f"A policy has at most {MAX_STAGES} stages.")
    for name in ("code", "offset_days"):
        values = [getattr(stage, name) for stage in stages]
        if len(set(values)) != len(values):
            raise InvalidPolicy(f"Two stages have the same {name}.", extra={"field": name})
    for stage in stages:
        if not OFFSET_RANGE[0] <= stage.offset_days <= OFFSET_RANGE[1]:
            raise InvalidPolicy(
                f"Stage offsets are between {OFFSET_RANGE[0]} and {OFFSET_RANGE[1]} days.",
                extra={"stage": stage.code},
            )
        unknown = set(stage.messages) - set(LANGUAGES)
        if unknown:
            raise InvalidPolicy(extra={"stage": stage.code, "languages": sorted(unknown)})
        if any(stage.messages.values()) and not stage.messages.get("en"):
            raise InvalidPolicy(
                "A stage that sends a message needs its English text (the fallback).",
                extra={"stage": stage.code},
            )
        for language, text in stage.messages.items():
            try:
                template_check(text)
            except InvalidTemplate as error:
                error.extra |= {"stage": stage.code, "language": language}
                raise


def _stage_fields(spec: StageSpec) -> dict:
    values = asdict(spec)
    messages = values.pop("messages")
    values.pop("code")
    return values | {f"message_{lang}": messages.get(lang, "") for lang in LANGUAGES}


def _stages_write(policy: DunningPolicy, stages: list[StageSpec]) -> None:
    """Make the policy's stages exactly `stages`, matched by code."""
    current = {stage.code: stage for stage in policy.stages.all()}
    gone = [stage for code, stage in current.items() if code not in {s.code for s in stages}]
    if DunningEvent.objects.filter(stage__in=gone).exists():
        raise StageInUse(extra={"stages": sorted(stage.code for stage in gone)})
    DunningStage.objects.filter(pk__in=[stage.pk for stage in gone]).delete()
    # Offsets are unique per policy: move the kept stages out of the way before rewriting.
    kept = [current[spec.code] for spec in stages if spec.code in current]
    for n, stage in enumerate(kept, start=1):
        DunningStage.objects.filter(pk=stage.pk).update(offset_days=OFFSET_RANGE[1] + n)
    for spec in stages:
        DunningStage.objects.update_or_create(
            policy=policy, code=spec.code, defaults=_stage_fields(spec)
        )


def policy_snapshot(policy: DunningPolicy) -> dict:
    stages = [
        {
            "code": s.code,
            "offset_days": s.offset_days,
            "penalty": s.charge_penalty,
            "suspend": s.suspend_service,
            "visit": s.field_visit,
        }
        for s in policy.stages.order_by("offset_days")
    ]
    return {"name": policy.name, "is_active": policy.is_active, "stages": stages}


@transaction.atomic
def dunning_policy_create(
    *,
    operator: Operator,
    name: str,
    stages: list[StageSpec],
    tariff: Tariff | None = None,
    is_active: bool = True,
    actor=None,
) -> DunningPolicy:
    if tariff is not None and tariff.operator_id != operator.pk:
        raise InvalidPolicy("The tariff belongs to another operator.")
    stages_check(stages)
    try:
        with transaction.atomic():
            policy = DunningPolicy.objects.create(
                operator=operator, tariff=tariff, name=name, is_active=is_active
            )
    except IntegrityError:
        raise PolicyExists() from None
    _stages_write(policy, stages)
    audit_record(
        actor=actor,
        action="dunning_policy.create",
        instance=policy,
        after=policy_snapshot(policy),
    )
    return policy


@transaction.atomic
def dunning_policy_update(
    *,
    policy: DunningPolicy,
    name: str | None = None,
    is_active: bool | None = None,
    stages: list[StageSpec] | None = None,
    actor=None,
) -> DunningPolicy:
    policy = DunningPolicy.objects.select_for_update().get(pk=policy.pk)
    before = policy_snapshot(policy)
    if stages is not None:
        stages_check(stages)
        _stages_write(policy, stages)
    policy.name = policy.name if name is None else name
    policy.is_active = policy.is_active if is_active is None else is_active
    policy.updated_at = timezone.now()
    policy.save(update_fields=["name", "is_active", "updated_at"])
    audit_record(
        actor=actor,
        action="dunning_policy.update",
        instance=policy,
        before=before,
        after=policy_snapshot(policy),
    )
    return policy


@transaction.atomic
def dunning_policy_delete(*, policy: DunningPolicy, actor=None) -> None:
    policy = DunningPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.tariff_id is None:
        raise DefaultPolicyRequired()
    if DunningEvent.objects.filter(stage__policy=policy).exists():
        raise StageInUse("A policy that has acted on invoices cannot be deleted; switch it off.")
    before = policy_snapshot(policy)
    audit_record(actor=actor, action="dunning_policy.delete", instance=policy, before=before)
    policy.delete()


def dunning_policy_default_ensure(*, operator: Operator) -> DunningPolicy:
    """The operator's default policy, created with DEFAULT_STAGES if it has none."""
    policy = DunningPolicy.objects.filter(operator=operator, tariff__isnull=True).first()
    if policy is not None:
        return policy
    try:
        return dunning_policy_create(
            operator=operator, name="Default dunning", stages=list(DEFAULT_STAGES)
        )
    except PolicyExists:  # created meanwhile by a concurrent run
        return DunningPolicy.objects.get(operator=operator, tariff__isnull=True)
