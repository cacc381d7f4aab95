"""A test driver that behaves like the Africa's Talking gateway, and demo-like customers.

`AtGateway` keeps the session's inputs and POSTs the cumulative `text` (inputs joined by "*")
to /ussd/africastalking/ on every hop, exactly like the gateway, and checks what the gateway
would refuse: a status other than 200, a body not starting with "CON " or "END ", more than
182 characters.
"""

import io
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.management import call_command

from billing.management.commands.seed_demo import CUSTOMERS, OPERATOR
from billing.models import AccountContact, Invoice, Meter, ReadingSource, ServiceAccount
from billing.services.payments import payment_record
from billing.services.readings import reading_submit
from tests.billing.factories import (
    customer_make,
    invoice_make,
    money,
    operator_make,
    service_account_make,
    tariff_make,
)
from ussd.sessions import resume_key

AT_URL = "/ussd/africastalking/"
FORM = "application/x-www-form-urlencoded; charset=UTF-8"
NALO_URL = "/ussd/nalo/"
SERVICE_CODE = "*384*12#"
MAX_CHARS = 182
_serials = itertools.count(1)


class GatewayRefused(AssertionError):
    """The gateway would have shown the customer an error."""


@dataclass
class AtGateway:
    client: object
    phone: str
    network: str = "63902"
    service_code: str = SERVICE_CODE
    session_id: str = field(default_factory=lambda: f"ATUid_{uuid.uuid4().hex}")
    inputs: list[str] = field(default_factory=list)
    body: str = ""

    @property
    def text(self) -> str:
        return "*".join(self.inputs)

    @property
    def ended(self) -> bool:
        return self.body.startswith("END ")

    @property
    def screen(self) -> str:
        return self.body[4:]

    def post(self, text: str) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": self.network,
            "text": text,
        }
        response = self.client.post(AT_URL, urlencode(form), content_type=FORM)
        body = response.content.decode()
        if response.status_code != 200:
            raise GatewayRefused(f"HTTP {response.status_code}: {body}")
        if not response["Content-Type"].startswith("text/plain"):
            raise GatewayRefused(f"content type {response['Content-Type']}")
        if not body.startswith(("CON ", "END ")):
            raise GatewayRefused(f"body does not start with CON/END: {body!r}")
        if len(body) > MAX_CHARS:
            raise GatewayRefused(f"{len(body)} characters: {body!r}")
        self.body = body
        return body

    def dial(self) -> str:
        """A new session (a new session id), as when the customer dials the code."""
        self.session_id = f"ATUid_{uuid.uuid4().hex}"
        self.inputs = []
        return self.post("")

    def send(self, *answers: str) -> str:
        for answer in answers:
            if self.ended:
                raise AssertionError(f"the session ended: {self.body!r}")
            self.inputs.append(answer)
            self.post(self.text)
        return self.body

    def walk(self, *answers: str, fresh: bool = True) -> str:
        """Dial and answer; `fresh`: as if the phone's last session had ended normally (no
        offer to resume it)."""
        if fresh:
            cache.delete(resume_key(self.phone))
        self.dial()
        return self.send(*answers)


@dataclass
class Demo:
    operator: object
    wanjiru: ServiceAccount  # en, one water account, paid up
    otieno_water: ServiceAccount  # sw, two accounts, owes on both
    otieno_power: ServiceAccount
    fatou: ServiceAccount  # fr, solar, overdue
    contact_phone: str  # a contact (not the owner) of Wanjiru's account


WANJIRU, OTIENO, FATOU = "+254712000001", "+254712000002", "+254712000003"
CONTACT, STRANGER = "+254712000009", "+254712000077"
READ_AT = datetime(2026, 1, 28, 10, tzinfo=UTC)


def meter_with_reading(account: ServiceAccount, index: str, *, serial: str = "") -> Meter:
    meter = Meter.objects.create(
        account=account,
        serial=serial or f"WM-{next(_serials):05d}",
        unit="m3",
        installed_at=READ_AT - timedelta(days=60),
    )
    reading_submit(
        meter=meter, index=Decimal(index), read_at=READ_AT, source=ReadingSource.TECHNICIAN
    )
    return meter


def demo_make() -> Demo:
    operator = operator_make(
        name="Malipo Utilities",
        paybill="123456",
        ussd_code=SERVICE_CODE,
        help_phone="+254700000100",
    )
    water = tariff_make(operator=operator, utility="water")
    power = tariff_make(operator=operator, utility="electricity")
    solar = tariff_make(operator=operator, utility="solar")

    wanjiru = service_account_make(
        operator=operator, tariff=water, owner=customer_make(phone=WANJIRU, name="Wanjiru")
    )
    meter_with_reading(wanjiru, "1212.4", serial="WM-DEMO-0001")
    for month in range(2):
        invoice = invoice_make(account=wanjiru, net_minor=120_000, vat_minor=19_200)
        Invoice.objects.filter(pk=invoice.pk).update(consumption=Decimal("12.4"))
        payment_record(
            account=wanjiru,
            amount=money("1392.00"),
            source="mpesa",
            reference=f"W{month}{invoice.pk}",
            clearing="clearing:mpesa",
        )
    AccountContact.objects.create(account=wanjiru, phone=CONTACT, name="Landlord")

    otieno = customer_make(phone=OTIENO, name="Otieno")
    otieno.language = "sw"
    otieno.save(update_fields=["language"])
    otieno_water = service_account_make(operator=operator, tariff=water, owner=otieno)
    otieno_power = service_account_make(
        operator=operator, tariff=power, owner=otieno, utility="electricity"
    )
    meter_with_reading(otieno_water, "5085", serial="WM-DEMO-0002")
    invoice_make(account=otieno_water, net_minor=90_000)
    invoice_make(account=otieno_power, net_minor=250_000, vat_minor=40_000)

    fatou_user = customer_make(phone=FATOU, name="Fatou")
    fatou_user.language = "fr"
    fatou_user.save(update_fields=["language"])
    fatou = service_account_make(operator=operator, tariff=solar, owner=fatou_user, utility="solar")
    invoice_make(account=fatou, net_minor=105_000)
    invoice_make(account=fatou, net_minor=98_000)
    return Demo(operator, wanjiru, otieno_water, otieno_power, fatou, CONTACT)


@dataclass(frozen=True)
class SeededCustomer:
    """A customer of `manage.py seed_demo` (README "Demo data"), as read back from the database."""

    phone: str
    language: str
    state: str  # paid up, partly paid, overdue
    account: ServiceAccount


def demo_seed() -> list[SeededCustomer]:
    """Run `seed_demo` into the test database; its customers, with their one account each."""
    call_command("seed_demo", stdout=io.StringIO())
    accounts = ServiceAccount.objects.select_related("operator", "owner")
    return [
        SeededCustomer(
            customer.phone,
            customer.language,
            customer.state,
            accounts.get(operator__slug=OPERATOR["slug"], owner__phone=customer.phone),
        )
        for customer in CUSTOMERS
    ]
