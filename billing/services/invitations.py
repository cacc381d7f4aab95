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
  survives the error. Redeeming locks the invitation row while it checks and uses the code,
  and the use is a conditional UPDATE besides: of concurrent redeems of one code, exactly one
  wins.
- A redeem is a USSD hop's work, so it keeps to four statements (account_invitation_redeem).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.codes import code_generate, code_hash, code_matches
from accounts.errors import ApplicationError
from accounts.phones import phone_mask
from billing.account_numbers import account_number_clean
from billing.models import AccountContact, AccountStatus, Operator, ServiceAccount
from billing.models.invitations import AccountInvitation

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

    At most four statements (a USSD hop's budget): the newest invitation, locked, with its
    account, operator and whether the phone is linked already (one SELECT ... FOR UPDATE); one
    UPDATE (a wrong try counted, or the code used); for the right code, one INSERT of the
    contact and one of the audit event. The transaction makes no savepoint inside a caller's:
    an error inside it rolls the caller's back too, and nothing here catches one.
    The account returned carries its operator (no further query to show it).
    """
    number = account_number_clean(account_number)
    if number is None:
        raise InvitationInvalid()
    with transaction.atomic(savepoint=False):
        account, error = _redeem(number=number, code=code, phone=phone, operator=operator)
    if error is not None:
        raise error
    return account


def _linked(phone: str, *, account: str = "account_id") -> Exists:
    """Whether `phone` owns or is a contact of the account the outer query's `account` names."""
    return Exists(
        ServiceAccount.objects.filter(pk=OuterRef(account)).filter(
            Q(owner__phone=phone) | Q(contacts__phone=phone)
        )
    )


def _redeem(
    *, number: str, code: str, phone: str, operator: Operator | None
) -> tuple[ServiceAccount | None, ApplicationError | None]:
    invitations = AccountInvitation.objects.filter(account__number=number)
    if operator is not None:
        invitations = invitations.filter(account__operator=operator)
    invitation = (
        invitations.select_related("account__operator")
        .annotate(linked=_linked(phone))
        .select_for_update(of=("self",))
        .order_by("-created_at")
        .first()
    )
    if invitation is None:
        # No invitation was ever issued: the phone may still be linked (it is told so).
        accounts = ServiceAccount.objects.select_related("operator").filter(number=number)
        if operator is not None:
            accounts = accounts.filter(operator=operator)
        account = accounts.annotate(linked=_linked(phone, account="id")).first()
        if account is None or account.status == AccountStatus.CLOSED or not account.linked:
            return None, InvitationInvalid()
        return account, None
    account = invitation.account
    if account.status == AccountStatus.CLOSED:
        return None, InvitationInvalid()
    if invitation.linked:
        return account, None
    now = timezone.now()
    if invitation.consumed_at is not None:
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
    # The row is locked: the guards below hold already (and keep holding on a database that
    # cannot lock a row, SQLite, where they make the UPDATE the arbiter).
    won = AccountInvitation.objects.filter(
        pk=invitation.pk, consumed_at__isnull=True, attempts__lt=MAX_ATTEMPTS, expires_at__gt=now
    ).update(consumed_at=now, consumed_by_phone=phone)
    if won != 1:
        return None, InvitationInvalid()
    invitation.consumed_at, invitation.consumed_by_phone = now, phone
    AccountContact.objects.bulk_create(
        [AccountContact(account=account, phone=phone)], ignore_conflicts=True
    )
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
    counted = AccountInvitation.objects.filter(pk=invitation.pk, attempts__lt=MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    # The row is locked (SQLite: the database is), so the count read plus this try is the count.
    attempts = invitation.attempts + counted
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
