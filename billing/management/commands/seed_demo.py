"""Demo data for `make run`: staff of each role, an operator with a tariff of every kind, and
three customers with five months of history. Safe to run again: nothing is created twice.

The history (meter readings, invoices, payments, penalties) is made by the real services, each
with the clock set to the moment it happens in the story (time-machine, from the dev
requirements), so invoices, ledger journals and statements carry the dates of the five months
before the current one: readings on the 28th, invoices on the 1st of the next month (due 14
days later), payments in the following days. Wanjiru pays every bill (paid up), Otieno pays
half of each bill and the rest later, but not yet the rest of the last one (partly paid), Fatou
stopped paying after two bills and is charged late-payment penalties (overdue). The operator
gets the default dunning policy.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from billing.models import (
    Invoice,
    InvoiceKind,
    Operator,
    PriceIndex,
    ReadingSource,
    ServiceAccount,
    Tariff,
)
from billing.money import Money
from billing.selectors import account_balance
from billing.services.accounts import service_account_create
from billing.services.catalog import (
    TierSpec,
    VersionSpec,
    price_index_create,
    price_index_value_set,
    tariff_create,
)
from billing.services.dunning_policies import dunning_policy_default_ensure
from billing.services.invoices import invoice_issue
from billing.services.onboarding import meter_install
from billing.services.payments import payment_record
from billing.services.penalties import penalty_charge
from billing.services.readings import reading_submit

DEMO_PASSWORD = "malipo-demo-2026"  # noqa: S105 - printed on purpose, demo data only
HISTORY_MONTHS = 5

STAFF = [
    ("+254700000001", "Amina Admin", Role.ADMIN),
    ("+254700000002", "Moses Manager", Role.MANAGER),
    ("+254700000003", "Achieng Agent", Role.AGENT),
    ("+254700000004", "Tom Technician", Role.TECHNICIAN),
]
OPERATOR = {
    "slug": "malipo",
    "name": "Malipo Utilities",
    "currency": "KES",
    "timezone": "Africa/Nairobi",
    "phone_region": "KE",
    "languages": "en,fr,sw",
    "address": "Moi Avenue 12, Nairobi",
    "help_phone": "+254700000100",
    "paybill": "123456",
    "ussd_code": "*384*12#",
    "invoice_due_days": 14,
}
INDEX_NAME = "Fuel-linked kWh price"
D = Decimal


@dataclass(frozen=True)
class Customer:
    phone: str
    name: str
    language: str
    state: str  # paid up, partly paid, overdue
    tariff: str
    address: str
    zone: str
    meter: str
    initial_index: Decimal
    usage: tuple[str, ...]  # consumption of each history month, oldest first


CUSTOMERS = [
    Customer(
        "+254712000001", "Wanjiru Paid-Up", "en", "paid up", "WATER-T",
        "Plot 14, Ngong Road", "Kilimani", "WM-DEMO-0001", D(1200),
        ("12.4", "14.1", "11.8", "13.5", "15.2"),
    ),
    Customer(
        "+254712000002", "Otieno Part-Paid", "sw", "partly paid", "POWER-I",
        "House 7, Jogoo Road", "Makadara", "EM-DEMO-0002", D(5000),
        ("85", "92", "78", "101", "95"),
    ),
    Customer(
        "+254712000003", "Fatou Overdue", "fr", "overdue", "SOLAR-F",
        "Kiosk Lane 3, Kawangware", "Dagoretti", "SM-DEMO-0003", D(0),
        ("30", "28", "33", "31", "29"),
    ),
]  # fmt: skip


def _tariffs(index: PriceIndex, start: date) -> list[tuple[str, str, str, VersionSpec]]:
    tiers = (TierSpec(D(10), D(53)), TierSpec(D(30), D(64)), TierSpec(None, D(78)))
    return [
        ("WATER-T", "Domestic water (tiered)", "water", VersionSpec(
            start, "tiered", tiers=tiers, standing_charge=D(100), penalty_percent=D(5))),
        ("WATER-F", "Water kiosk (flat)", "water", VersionSpec(
            start, "flat", unit_price=D(70), penalty_percent=D(5))),
        ("POWER-I", "Domestic power (indexed)", "electricity", VersionSpec(
            start, "indexed", price_index=index, standing_charge=D(150), service_fee=D(50),
            vat_rate=D("0.16"), penalty_percent=D(5))),
        ("SOLAR-F", "Solar home system (flat)", "solar", VersionSpec(
            start, "flat", unit_price=D(35), standing_charge=D(200), penalty_percent=D(2),
            penalty_fixed=D(50))),
    ]  # fmt: skip


def _month_add(month: date, count: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1)


def _index_price(month: date) -> Decimal:
    return D("23.4567") + D("0.35") * (month.month % 4)


class Command(BaseCommand):
    help = "Create (or complete) the demo operator, staff, customers and their history."

    @transaction.atomic
    def handle(self, *args, **options):
        try:
            import time_machine
        except ImportError as exc:
            raise CommandError(
                "seed_demo needs time-machine: install requirements-dev.txt"
            ) from exc
        staff = {role: self._staff(phone, name, role) for phone, name, role in STAFF}
        self.manager, self.technician = staff[Role.MANAGER], staff[Role.TECHNICIAN]
        self.operator, _ = Operator.objects.get_or_create(slug=OPERATOR["slug"], defaults=OPERATOR)
        self.zone = ZoneInfo(self.operator.timezone)
        now = timezone.now()
        current = timezone.localdate(now, self.zone).replace(day=1)
        self.months = [_month_add(current, -k) for k in range(HISTORY_MONTHS, 0, -1)]
        self._catalog(first=_month_add(current, -HISTORY_MONTHS - 1), last=current)
        # The default dunning policy, so the demo operator's reminders and penalties can be
        # seen and edited at once (the daily run would otherwise create it on first use).
        dunning_policy_default_ensure(operator=self.operator)
        events = [event for customer in CUSTOMERS for event in _Story(self, customer).events()]
        # By when they happen in the story; what would be in the future happens now.
        for moment, _, action in sorted(events, key=lambda event: event[:2]):
            with time_machine.travel(min(moment, now), tick=False):
                action()
        self._print_welcome()

    def _staff(self, phone: str, name: str, role: Role) -> User:
        user, created = User.objects.get_or_create(
            phone=phone,
            defaults={
                "name": name,
                "role": role,
                "is_active": True,
                "is_superuser": role == Role.ADMIN,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _catalog(self, *, first: date, last: date) -> None:
        index = PriceIndex.objects.filter(operator=self.operator, name=INDEX_NAME).first()
        if index is None:
            index = price_index_create(operator=self.operator, name=INDEX_NAME, actor=self.manager)
        month = first
        while month <= last:
            price_index_value_set(
                index=index, month=month, price=_index_price(month), actor=self.manager
            )
            month = _month_add(month, 1)
        for code, name, utility, version in _tariffs(index, first):
            if not Tariff.objects.filter(operator=self.operator, code=code).exists():
                tariff_create(
                    operator=self.operator,
                    code=code,
                    name=name,
                    utility=utility,
                    version=version,
                    actor=self.manager,
                )

    def at(self, day: date, hour: int) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=self.zone)

    def _print_welcome(self) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS("Demo data ready."))
        write("  Service:   http://127.0.0.1:8000/healthz")
        write("  API docs:  http://127.0.0.1:8000/api/docs/")
        write("  Admin:     http://127.0.0.1:8000/admin/")
        write(f"  Staff logins (password {DEMO_PASSWORD}):")
        for phone, name, role in STAFF:
            write(f"    {phone}  {role.label:<13} {name}")
        operator = self.operator
        write(f"  Customers of {operator.name} (paybill {operator.paybill}, {operator.ussd_code}):")
        for customer in CUSTOMERS:
            account = ServiceAccount.objects.get(operator=operator, owner__phone=customer.phone)
            balance = account_balance(account)
            write(
                f"    {customer.phone}  account {account.number}  {customer.name:<17} "
                f"{customer.state:<12} owes {balance}"
            )
        write("  SMS sent by the service appear in var/sms-console.log.")


class _Story:
    """Five months of one customer: an account, a meter, readings, bills, payments, penalties.

    Each step is idempotent: a second run of the command finds it done and changes nothing.
    """

    def __init__(self, command: Command, customer: Customer) -> None:
        self.command, self.customer = command, customer
        self.operator = command.operator

    @property
    def account(self) -> ServiceAccount:
        return ServiceAccount.objects.get(operator=self.operator, owner__phone=self.customer.phone)

    def events(self) -> list[tuple[datetime, int, Callable[[], None]]]:
        """(moment, order among events at the same moment, action)."""
        at, months = self.command.at, self.command.months
        events = [(at(months[0], 7), 0, self.open), (at(months[0], 8), 1, self.install)]
        index = self.customer.initial_index
        for position, (month, usage) in enumerate(zip(months, self.customer.usage, strict=True)):
            index += D(usage)
            billed = _month_add(month, 1)
            events.append((at(month.replace(day=28), 10), 2, partial(self.read, index)))
            events.append((at(billed, 6), 3, partial(self.bill, month)))
            events += self.payments(position, month, billed)
        return events

    def payments(self, position: int, month: date, billed: date) -> list:
        at, state = self.command.at, self.customer.state
        if state == "paid up" or (state == "overdue" and position < 2):
            return [(at(billed.replace(day=8), 12), 4, partial(self.pay, month, "full"))]
        if state == "partly paid":
            paid = [(at(billed.replace(day=5), 12), 4, partial(self.pay, month, "part"))]
            if position < HISTORY_MONTHS - 1:  # the rest of the last bill is still due
                paid.append((at(billed.replace(day=20), 12), 4, partial(self.pay, month, "rest")))
            return paid
        due = billed + timedelta(days=self.operator.invoice_due_days)
        return [(at(due + timedelta(days=1), 9), 5, partial(self.penalise, month))]

    def open(self) -> None:
        owner, _ = User.objects.get_or_create(
            phone=self.customer.phone,
            defaults={
                "name": self.customer.name,
                "language": self.customer.language,
                "is_active": True,
            },
        )
        if not owner.service_accounts.filter(operator=self.operator).exists():
            tariff = Tariff.objects.get(operator=self.operator, code=self.customer.tariff)
            service_account_create(
                operator=self.operator,
                owner=owner,
                holder_name=self.customer.name,
                utility=tariff.utility,
                tariff=tariff,
                address=self.customer.address,
                zone=self.customer.zone,
                actor=self.command.manager,
            )

    def install(self) -> None:
        if not self.account.meters.exists():
            meter_install(
                account=self.account,
                serial=self.customer.meter,
                initial_index=self.customer.initial_index,
                actor=self.command.technician,
            )

    def read(self, index: Decimal) -> None:
        meter = self.account.meters.get(serial=self.customer.meter)
        if not meter.readings.filter(read_at__gte=timezone.now()).exists():
            reading_submit(
                meter=meter,
                index=index,
                read_at=timezone.now(),
                source=ReadingSource.TECHNICIAN,
                submitted_by=self.command.technician,
            )

    def bill(self, month: date) -> None:
        invoice_issue(account=self.account, period=month)

    def _invoice(self, month: date) -> Invoice:
        return Invoice.objects.get(
            account=self.account, period=month, kind=InvoiceKind.INVOICE, replaces__isnull=True
        )

    def pay(self, month: date, part: str) -> None:
        total = self._invoice(month).total_minor
        half = total // 2 // 100 * 100  # whole shillings
        amount = {"full": total, "part": half, "rest": total - half}[part]
        if amount > 0:
            payment_record(
                account=self.account,
                amount=Money(amount, self.operator.currency),
                source="mpesa",
                reference=f"DEMO{self.account.number}{month:%Y%m}{part.upper()}",
                received_at=timezone.now(),
                clearing="clearing:mpesa",
            )

    def penalise(self, month: date) -> None:
        """Charged the day after the due date (not at all while that day is still to come)."""
        today = timezone.localdate(timezone.now(), self.command.zone)
        penalty_charge(invoice=self._invoice(month), on_date=today)
