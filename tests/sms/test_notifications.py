"""Notifications billing calls: the bill when an invoice is issued, the fate of a reading."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.models import Meter, MeterReading
from billing.summaries import invoice_summary_sms
from sms.models import MessageKind, SmsContact
from sms.notifications import invoice_issued_notify, reading_result_notify
from tests.billing.factories import account_make, invoice_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _console(settings):
    settings.SMS_ROUTES = ["*:console"]


def test_an_issued_invoice_is_texted_once_in_the_holders_language():
    account = account_make()
    invoice = invoice_make(account=account, net_minor=50_000)
    SmsContact.objects.create(phone=account.owner.phone, language="sw")

    first = invoice_issued_notify(invoice)
    again = invoice_issued_notify(invoice)

    assert again.pk == first.pk
    assert (first.kind, first.to, first.account_id) == (
        MessageKind.BILL,
        account.owner.phone,
        account.pk,
    )
    assert first.body == invoice_summary_sms(invoice, "sw")
    assert first.operator_key == account.operator.slug


def _reading(account, status: str, source: str = "customer_sms") -> MeterReading:
    meter = Meter.objects.create(account=account, serial=f"M-{status}-{source}")
    return MeterReading.objects.create(
        meter=meter,
        index=Decimal("4521.500"),
        read_at=datetime(2026, 11, 20, tzinfo=UTC),
        source=source,
        status=status,
        submitted_by=account.owner,
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("accepted", "Reading 4521.5 m3 for account {n} is accepted. Thank you."),
        ("pending_review", "Reading 4521.5 m3 for account {n} received; it will be checked."),
        ("rejected", "Reading 4521.5 m3 for account {n} was not accepted. Please check it and "
                     "send it again."),
    ],
)  # fmt: skip
def test_a_customer_hears_whether_their_reading_was_accepted_or_flagged(status, expected):
    account = account_make()
    reading = _reading(account, status)

    message = reading_result_notify(reading)

    assert message.body == expected.format(n=account.number)
    assert (message.kind, message.to) == (MessageKind.NOTICE, account.owner.phone)
    assert reading_result_notify(reading).pk == message.pk


def test_readings_by_staff_send_nothing():
    account = account_make()

    assert reading_result_notify(_reading(account, "accepted", source="technician")) is None
