"""Service accounts: opening one, and finding one from a number someone typed."""

import logging
from collections.abc import Iterable

from django.db import transaction

from accounts.audit import audit_record, audit_snapshot
from accounts.errors import ApplicationError
from accounts.phones import phone_normalize
from billing.account_numbers import account_number_clean, account_number_make
from billing.models import AccountContact, Operator, ServiceAccount, Tariff, Utility
from billing.sequences import sequence_take

logger = logging.getLogger(__name__)

# An extra contact: a phone as typed, or (phone, name).
Contact = str | tuple[str, str]


class TariffMismatch(ApplicationError):
    code = "tariff_mismatch"
    message = "The tariff does not belong to this operator and utility."


class AccountInvalid(ApplicationError):
    code = "account_invalid"
    message = "The account cannot be opened with these details."


@transaction.atomic
def service_account_create(
    *,
    operator: Operator,
    owner,
    holder_name: str,
    utility: str,
    tariff: Tariff,
    address: str = "",
    zone: str = "",
    contacts: Iterable[Contact] = (),
    actor=None,
) -> ServiceAccount:
    """Open an account numbered from the operator's gap-free "account" sequence, with a Damm
    check digit. Extra contact phones are read in the operator's phone region (InvalidPhoneNumber
    for a bad one); duplicates and the owner's own number are dropped."""
    holder_name = (holder_name or "").strip()
    if not holder_name:
        raise AccountInvalid("The account holder's name is required.")
    if utility not in Utility.values:
        raise AccountInvalid(f"Unknown utility {utility!r}.")
    if tariff.operator_id != operator.pk or tariff.utility != utility:
        raise TariffMismatch()
    phones = _contacts_normalized(contacts, region=operator.phone_region, owner_phone=owner.phone)
    (sequence,) = sequence_take(operator=operator, kind="account")
    account = ServiceAccount.objects.create(
        number=account_number_make(sequence),
        operator=operator,
        utility=utility,
        owner=owner,
        holder_name=holder_name,
        tariff=tariff,
        address=address.strip(),
        zone=zone.strip(),
    )
    AccountContact.objects.bulk_create(
        AccountContact(account=account, phone=phone, name=name) for phone, name in phones.items()
    )
    audit_record(
        actor=actor,
        action="service_account.create",
        instance=account,
        after={**audit_snapshot(account), "contacts": len(phones)},
    )
    logger.info(
        "service account opened",
        extra={"account": account.number, "operator": operator.pk, "contacts": len(phones)},
    )
    return account


def service_account_find(text: str, *, operator: Operator | None = None) -> ServiceAccount | None:
    """The account whose number someone typed (spaces, dashes and dots allowed), or None when
    the check digit says it was mistyped or no such account exists."""
    number = account_number_clean(text)
    if number is None:
        return None
    accounts = ServiceAccount.objects.select_related("operator").filter(number=number)
    if operator is not None:
        accounts = accounts.filter(operator=operator)
    return accounts.first()


def _contacts_normalized(
    contacts: Iterable[Contact], *, region: str, owner_phone: str
) -> dict[str, str]:
    phones: dict[str, str] = {}
    for contact in contacts:
        raw, name = (contact, "") if isinstance(contact, str) else contact
        phone = phone_normalize(raw, region=region)
        if phone != owner_phone:
            phones.setdefault(phone, name.strip()[:150])
    return phones
