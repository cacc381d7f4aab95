"""Opening service accounts and finding them from a number typed on USSD, SMS or a paybill."""

import pytest

from accounts.exceptions import InvalidPhoneNumber
from accounts.models import AuditEvent
from billing.models import AccountContact, ServiceAccount
from billing.services.accounts import (
    AccountInvalid,
    TariffMismatch,
    service_account_create,
    service_account_find,
)
from tests.billing.meter_factories import customer_make, operator_make, tariff_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return operator_make(slug="maji", phone_region="UG", currency="UGX")


@pytest.fixture
def tariff(operator):
    return tariff_make(operator, utility="water")


def open_account(operator, tariff, **fields):
    if "owner" not in fields:
        fields["owner"] = customer_make()
    fields = {
        "holder_name": "Nakato Sarah",
        "utility": "water",
        "tariff": tariff,
    } | fields
    return service_account_create(operator=operator, **fields)


def test_accounts_are_numbered_in_sequence_with_a_check_digit(operator, tariff):
    first = open_account(operator, tariff, address=" Plot 4, Ntinda ", zone="north")
    second = open_account(operator, tariff)

    assert (first.number, second.number) == ("100000011", "100000022")
    first.refresh_from_db()
    assert (first.address, first.zone, first.status) == ("Plot 4, Ntinda", "north", "active")


def test_extra_contacts_are_read_in_the_operators_region_and_deduplicated(operator, tariff):
    account = open_account(
        operator,
        tariff,
        owner=customer_make("+256772000001"),
        contacts=[
            ("0772 123 456", "Landlord"),
            "+256 772 123456",  # the landlord again, typed differently
            "0772000001",  # the owner's own number
            "+254712345678",  # a Kenyan relative: an explicit country code wins
        ],
    )

    contacts = AccountContact.objects.filter(account=account).order_by("phone")
    assert [(c.phone, c.name) for c in contacts] == [
        ("+254712345678", ""),
        ("+256772123456", "Landlord"),
    ]


def test_bad_contact_phone_opens_nothing_and_uses_no_number(operator, tariff):
    with pytest.raises(InvalidPhoneNumber):
        open_account(operator, tariff, contacts=["0772 123 456", "12345"])

    assert not ServiceAccount.objects.exists()
    assert open_account(operator, tariff).number == "100000011"


def test_tariff_of_another_utility_or_operator_is_refused(operator, tariff):
    other = operator_make(slug="other")
    with pytest.raises(TariffMismatch):
        open_account(operator, tariff, utility="electricity")
    with pytest.raises(TariffMismatch):
        open_account(operator, tariff_make(other, utility="water"))
    with pytest.raises(AccountInvalid):
        open_account(operator, tariff, holder_name="   ")
    assert not ServiceAccount.objects.exists()


def test_opening_an_account_is_audited(operator, tariff):
    manager = customer_make("+256772000009")
    account = open_account(operator, tariff, actor=manager, contacts=["0772123456"])

    event = AuditEvent.objects.get(action="service_account.create")
    assert (event.actor, event.object_id) == (manager, str(account.pk))
    assert event.after["number"] == "100000011"
    assert event.after["contacts"] == 1


def test_find_accepts_the_number_as_people_type_it(operator, tariff):
    account = open_account(operator, tariff)

    for typed in ("100000011", "1000 0001 1", "100-000-011", " 100.000.011 "):
        assert service_account_find(typed) == account


def test_find_refuses_a_mistyped_number_even_when_it_is_close_to_a_real_one(operator, tariff):
    first = open_account(operator, tariff)
    open_account(operator, tariff)

    assert first.number == "100000011"
    assert service_account_find("100000021") is None  # one digit wrong
    assert service_account_find("100000101") is None  # two neighbours swapped
    assert service_account_find("") is None
    assert service_account_find("account 100000011") is None


def test_find_returns_none_for_a_valid_number_nobody_has(operator, tariff):
    open_account(operator, tariff)

    assert service_account_find("100000033") is None


def test_find_can_be_limited_to_one_operator(operator, tariff):
    account = open_account(operator, tariff)
    other = operator_make(slug="other")

    assert service_account_find(account.number, operator=operator) == account
    assert service_account_find(account.number, operator=other) is None
