"""Disputes: staff flag an account whose bill the customer contests; dunning pauses meanwhile.

While a dispute is open no stage reaches the account's invoices (billing.services.dunning).
When it is closed, the next run records the stages that became due in the meantime, once
each, and sends only the latest one's message (the catch-up rule of the dunning run).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.errors import ApplicationError
from billing.ledger import service_account_lock
from billing.models import Dispute, ServiceAccount


class DisputeAlreadyOpen(ApplicationError):
    code = "dispute_open"
    message = "The account already has an open dispute."
    http_status = 409


class NoOpenDispute(ApplicationError):
    code = "no_open_dispute"
    message = "The account has no open dispute."
    http_status = 409


@transaction.atomic
def dispute_open(*, account: ServiceAccount, reason: str, actor) -> Dispute:
    account = service_account_lock(account_id=account.pk)
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(account=account, reason=reason, opened_by=actor)
    except IntegrityError:
        raise DisputeAlreadyOpen() from None
    audit_record(actor=actor, action="dispute.open", instance=dispute, after={"reason": reason})
    return dispute


@transaction.atomic
def dispute_close(*, account: ServiceAccount, resolution: str, actor) -> Dispute:
    account = service_account_lock(account_id=account.pk)
    dispute = Dispute.objects.filter(account=account, closed_at__isnull=True).first()
    if dispute is None:
        raise NoOpenDispute()
    dispute.closed_at = timezone.now()
    dispute.closed_by = actor
    dispute.resolution = resolution
    dispute.save(update_fields=["closed_at", "closed_by", "resolution"])
    audit_record(
        actor=actor, action="dispute.close", instance=dispute, after={"resolution": resolution}
    )
    return dispute
