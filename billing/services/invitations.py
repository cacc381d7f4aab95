"""Invitation codes that let a phone link itself to a service account (by USSD).

Decisions:
- Linking adds the phone as an AccountContact; it never changes the account's owner. The
  owner is chosen by staff when the account is opened (and audited there); a contact may see
  and pay the account, which is all the USSD menus need. A phone that is already the owner or a
  contact is told it is linked, and the code is left unused.
- The code is six digits (accounts.codes), stored as a keyed hash bound to the invitation's id.
  With at most MAX_ATTEMPTS wrong tries per invitation, a guesser has a 5 in 10**6 chance.
- Only the newest invitation of an account counts: a new letter retires the older codes.
- A wrong code is counted before the error is raised (its own transaction), so the count
  survives the error. Redeeming is one conditional UPDATE: of concurrent redeems of one code,
  exactly one wins.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.codes import code_generate, code_hash, code_matches
from accounts.errors import ApplicationError
from accounts.phones import phone_mask
from billing.models import AccountContact, AccountStatus, Operator, ServiceAccount
from billing.models.invitations import AccountInvitation
from billing.services.accounts import service_account_find

logger = logging.getLogger(__name__)

PURPOSE = "account_invitation"
INVITATION_TTL = timedelta(days=30)
MAX_ATTEMPTS = 5


class InvitationInvalid(ApplicationError):
    code = "invitation_invalid"
    message = "The account number or the code is wrong."


class InvitationExpired(ApplicationError):
    code = "invitation_expired"
    message = "This invitation code has expired; ask for a new letter."


class InvitationLocked(ApplicationError):
    code = "invitation_locked"
    message = "Too many wrong codes; ask for a new letter."


class InvitationAccountClosed(ApplicationError):
    code = "account_closed"
    message = "The account is closed."
    http_status = 409


@dataclass(frozen=True)
class IssuedInvitation:
    """The plain code exists only here, to be printed once; it is never stored."""

    invitation: AccountInvitation
    code: str


def _digest_subject(account: ServiceAccount) -> str:
    # The code is not bound to a phone (whoever holds the letter may use it): the account
    # number takes the phone's place in the hashed message.
    return account.number


@transaction.atomic
def account_invitation_issue(*, account: ServiceAccount, actor=None) -> IssuedInvitation:
    """A new invitation code for `account`, valid INVITATION_TTL; older codes stop working."""
    if account.status == AccountStatus.CLOSED:
        raise InvitationAccountClosed()
    now = timezone.now()
    code = code_generate()
    invitation = AccountInvitation(
        account=account, created_at=now, expires_at=now + INVITATION_TTL, created_by=actor
    )
    invitation.pepper_version, invitation.code_hash = code_hash(
        code=code, challenge_id=invitation.id, phone=_digest_subject(account), purpose=PURPOSE
    )
    invitation.save(force_insert=True)
    audit_record(
        actor=actor,
        action="account_invitation.issue",
        instance=invitation,
        after=audit_snapshot(invitation),
    )
    logger.info(
        "account invitation issued",
        extra={"invitation_id": str(invitation.id), "account": account.number},
    )
    return IssuedInvitation(invitation=invitation, code=code)


def account_invitation_redeem(
    *, account_number: str, code: str, phone: str, operator: Operator | None = None
) -> ServiceAccount:
    """Link `phone` (E.164) to the account numbered `account_number` with its invitation code.

    Raises InvitationInvalid (unknown account, no invitation, used code, wrong code: one answer
    for all, so the answers tell nothing about which accounts exist), InvitationExpired or
    InvitationLocked. Wrong codes are committed before the error is raised.
    """
    with transaction.atomic():
        account, error = _redeem(
            account_number=account_number, code=code, phone=phone, operator=operator
        )
    if error is not None:
        raise error
    return account


def _redeem(
    *, account_number: str, code: str, phone: str, operator: Operator | None
) -> tuple[ServiceAccount | None, ApplicationError | None]:
    account = service_account_find(account_number, operator=operator)
    if account is None or account.status == AccountStatus.CLOSED:
        return None, InvitationInvalid()
    linked = ServiceAccount.objects.filter(pk=account.pk).filter(
        Q(owner__phone=phone) | Q(contacts__phone=phone)
    )
    if linked.exists():
        return account, None
    now = timezone.now()
    invitation = account.invitations.order_by("-created_at").first()
    if invitation is None or invitation.consumed_at is not None:
        return None, InvitationInvalid()
    if invitation.expires_at <= now:
        return None, InvitationExpired()
    if invitation.attempts >= MAX_ATTEMPTS:
        return None, InvitationLocked()
    right = code_matches(
        code=(code or "").strip(),
        challenge_id=invitation.id,
        phone=_digest_subject(account),
        purpose=PURPOSE,
        pepper_version=invitation.pepper_version,
        expected_hash=invitation.code_hash,
    )
    if not right:
        return None, _wrong_code(invitation, phone=phone)
    won = AccountInvitation.objects.filter(
        pk=invitation.pk, consumed_at__isnull=True, attempts__lt=MAX_ATTEMPTS, expires_at__gt=now
    ).update(consumed_at=now, consumed_by_phone=phone)
    if won != 1:
        return None, InvitationInvalid()
    AccountContact.objects.get_or_create(account=account, phone=phone)
    invitation.refresh_from_db()
    audit_record(
        actor=None,
        action="account_invitation.redeem",
        instance=invitation,
        after={**audit_snapshot(invitation), "consumed_by_phone": phone_mask(phone)},
    )
    logger.info(
        "account linked by invitation",
        extra={"invitation_id": str(invitation.id), "phone": phone_mask(phone)},
    )
    return account, None


def _wrong_code(invitation: AccountInvitation, *, phone: str) -> ApplicationError:
    AccountInvitation.objects.filter(pk=invitation.pk, attempts__lt=MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    attempts = AccountInvitation.objects.values_list("attempts", flat=True).get(pk=invitation.pk)
    logger.info(
        "wrong invitation code",
        extra={
            "invitation_id": str(invitation.id),
            "phone": phone_mask(phone),
            "attempts": attempts,
        },
    )
    if attempts >= MAX_ATTEMPTS:
        return InvitationLocked()
    return InvitationInvalid(extra={"attempts_left": MAX_ATTEMPTS - attempts})
