"""Shared set-up for the billing API, PDF and summary tests, built with the real services.

- staff_make(role) -> an active user; client_for(user) -> an APIClient with a JWT
- operator_make(**fields) -> a KES operator (paybill 123456, USSD *384*12#)
- water_tariff(operator) -> tiered water tariff: 0-10 m3 at 50, 10-30 at 60, above at 75,
      standing charge 100, VAT 16 %, penalty 5 %, from 2026-01-01
- account_open(operator, tariff, phone=..., name=...) -> ServiceAccount (owner by phone)
- billed(account, usages, first=2026-06) -> the account's invoices, one a month, each issued
      on the 1st of the next month (time travelled) after a reading on the 28th
"""

import itertools
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role, User
from billing.models import Invoice, Operator, ReadingSource, ServiceAccount, Tariff
from billing.services.catalog import TierSpec, VersionSpec, tariff_create
from billing.services.invoices import invoice_issue
from billing.services.onboarding import meter_install, service_account_open
from billing.services.readings import reading_submit

NAIROBI = ZoneInfo("Africa/Nairobi")
_serial = itertools.count(1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=NAIROBI)


def staff_make(role: Role = Role.AGENT, **fields) -> User:
    phone = fields.pop("phone", f"+2547009{next(_serial):05d}")
    return User.objects.create_user(phone, role=role, is_active=True, **fields)


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def operator_make(**fields) -> Operator:
    n = next(_serial)
    defaults = {
        "name": "Maji Safi",
        "currency": "KES",
        "address": "Moi Avenue 12, Nairobi",
        "help_phone": "+254700000100",
        "paybill": "123456",
        "ussd_code": "*384*12#",
    }
    return Operator.objects.create(slug=f"op-{n}", **(defaults | fields))


def water_tariff(operator: Operator, **version) -> Tariff:
    spec = {
        "effective_from": date(2026, 1, 1),
        "pricing": "tiered",
        "tiers": (
            TierSpec(Decimal(10), Decimal(50)),
            TierSpec(Decimal(30), Decimal(60)),
            TierSpec(None, Decimal(75)),
        ),
        "standing_charge": Decimal(100),
        "vat_rate": Decimal("0.16"),
        "penalty_percent": Decimal(5),
    }
    return tariff_create(
        operator=operator,
        code=f"W{next(_serial)}",
        name="Domestic water",
        utility="water",
        version=VersionSpec(**(spec | version)),
        actor=None,
    )


def account_open(
    operator: Operator, tariff: Tariff, *, phone: str = "", name: str = "Wanjiru Kamau"
) -> ServiceAccount:
    return service_account_open(
        tariff=tariff,
        owner_phone=phone or f"+25471{next(_serial):07d}",
        holder_name=name,
        address="Plot 14, Ngong Road",
    )


def billed(account: ServiceAccount, usages, *, first: date = date(2026, 6, 1)) -> list[Invoice]:
    """For each month from `first`, a reading on the 28th with that usage, then the month's
    invoice on the 1st of the next month. A usage of None: no reading (the month is estimated).
    A meter is installed at `first` unless the account has one (its readings then go on)."""
    meter = account.meters.filter(removed_at__isnull=True).first()
    if meter is None:
        with time_machine.travel(at(first, 8), tick=False):
            meter = meter_install(account=account, serial=f"M-{next(_serial):06d}")
    last = meter.readings.filter(status="accepted", is_estimated=False).order_by("-read_at").first()
    index = last.index if last else meter.initial_index
    invoices, month = [], first
    for usage in usages:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if usage is not None:
            index += Decimal(usage)
            with time_machine.travel(at(month.replace(day=28), 10), tick=False):
                reading_submit(
                    meter=meter,
                    index=index,
                    read_at=at(month.replace(day=28), 10),
                    source=ReadingSource.TECHNICIAN,
                )
        with time_machine.travel(at(following, 6), tick=False):
            invoices.append(invoice_issue(account=account, period=month))
        month = following
    return invoices
