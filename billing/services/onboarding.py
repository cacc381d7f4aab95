"""Connecting a customer: opening a service account for a phone number, installing a meter.

`service_account_open` is what staff call: the owner is found by phone (read in the operator's
phone region) or created as an inactive customer, who activates the number later by SMS like
anyone else; the account itself is opened by `service_account_create`.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record, audit_snapshot
from accounts.errors import ApplicationError
from accounts.models import User
from accounts.phones import phone_mask, phone_normalize
from billing.models import AccountStatus, Meter, ServiceAccount, Tariff
from billing.services.accounts import Contact, service_account_create
from billing.services.invoices import UNITS
from billing.services.metering import index_text, register_turn
from billing.services.readings import MeterSerialTaken, ReadingInvalid

logger = logging.getLogger(__name__)


class MeterAlreadyInstalled(ApplicationError):
    code = "meter_already_installed"
    message = "The account already has a meter in service; replace it instead."
    http_status = 409


class AccountClosed(ApplicationError):
    code = "account_closed"
    message = "The account is closed."
    http_status = 409


def customer_for_phone(
    *, phone: str, name: str = "", region: str | None = None
) -> tuple[User, bool]:
    """(user, created): the user with this phone, or a new inactive customer.

    Raises InvalidPhoneNumber for anything that is not a valid number in `region`.
    """
    phone = phone_normalize(phone, region=region)
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        return user, False
    try:
        with transaction.atomic():
            user = User.objects.create_user(phone, name=(name or "").strip()[:150])
    except IntegrityError:  # created meanwhile by a concurrent request
        return User.objects.get(phone=phone), False
    logger.info("customer created for an account", extra={"phone": phone_mask(phone)})
    return user, True


@transaction.atomic
def service_account_open(
    *,
    tariff: Tariff,
    owner_phone: str,
    holder_name: str,
    owner_name: str = "",
    utility: str | None = None,
    address: str = "",
    zone: str = "",
    contacts: Iterable[Contact] = (),
    actor=None,
) -> ServiceAccount:
    """Open an account on `tariff` (its operator, and its utility unless one is given)."""
    operator = tariff.operator
    owner, created = customer_for_phone(
        phone=owner_phone, name=owner_name or holder_name, region=operator.phone_region
    )
    if created:
        audit_record(actor=actor, action="user.create", instance=owner, after=audit_snapshot(owner))
    return service_account_create(
        operator=operator,
        owner=owner,
        holder_name=holder_name,
        utility=utility or tariff.utility,
        tariff=tariff,
        address=address,
        zone=zone,
        contacts=contacts,
        actor=actor,
    )


@transaction.atomic
def meter_install(
    *,
    account: ServiceAccount,
    serial: str,
    installed_at: datetime | None = None,
    initial_index: Decimal = Decimal(0),
    max_index: Decimal = Decimal(99999),
    unit: str = "",
    actor=None,
) -> Meter:
    """Put a first (or next, after removal) meter on an account. Swaps go through
    `meter_replace`, which also records the old meter's final reading."""
    account = ServiceAccount.objects.select_for_update().get(pk=account.pk)
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed()
    if account.meters.filter(removed_at__isnull=True).exists():
        raise MeterAlreadyInstalled()
    serial = (serial or "").strip()
    if not serial:
        raise ReadingInvalid("A meter needs a serial number.")
    if Meter.objects.filter(serial=serial).exists():
        raise MeterSerialTaken()
    if max_index <= 0 or not Decimal(0) <= initial_index < register_turn(max_index):
        raise ReadingInvalid(
            f"The initial index must be between 0 and {index_text(max_index)}.",
            extra={"max_index": index_text(max_index)},
        )
    try:
        with transaction.atomic():
            meter = Meter.objects.create(
                account=account,
                serial=serial,
                unit=unit or UNITS.get(account.utility, "m3"),
                max_index=max_index,
                initial_index=initial_index,
                installed_at=installed_at or timezone.now(),
            )
    except IntegrityError as exc:  # the same serial, installed meanwhile elsewhere
        raise MeterSerialTaken() from exc
    audit_record(actor=actor, action="meter.install", instance=meter, after=audit_snapshot(meter))
    return meter
