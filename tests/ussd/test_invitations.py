"""Invitation codes: issued by staff (API, command), shown once, stored hashed, single-use,
expiring, locked after 5 wrong tries; redeemed by USSD to link a phone to an account."""

import json
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS

from accounts.models import AuditEvent, Role
from billing.models import AccountContact, AccountStatus
from billing.models.invitations import AccountInvitation
from billing.services.invitations import (
    MAX_ATTEMPTS,
    InvitationExpired,
    InvitationInvalid,
    InvitationLocked,
    account_invitation_issue,
    account_invitation_redeem,
)
from tests.billing.api_support import client_for, staff_make
from tests.billing.factories import account_make
from tests.ussd.support import SERVICE_CODE, STRANGER, WANJIRU
from ussd.selectors import caller_load, operator_for_code
from ussd.sessions import session_load

pytestmark = pytest.mark.django_db

OTHER = "+254712000088"


def redeem(account, code: str, phone: str = STRANGER):
    return account_invitation_redeem(account_number=account.number, code=code, phone=phone)


@pytest.fixture
def account(db):
    return account_make()


def test_the_code_is_six_digits_and_only_its_hash_is_stored(account):
    issued = account_invitation_issue(account=account)
    assert re.fullmatch(r"\d{6}", issued.code)
    stored = AccountInvitation.objects.get()
    assert issued.code not in stored.code_hash
    assert issued.code not in json.dumps([e.after for e in AuditEvent.objects.all()])


def test_a_code_links_the_phone_as_a_contact_once(account):
    issued = account_invitation_issue(account=account)
    assert redeem(account, issued.code) == account
    assert AccountContact.objects.filter(account=account, phone=STRANGER).exists()
    assert account.owner.phone != STRANGER  # the owner stays who staff made it
    with pytest.raises(InvitationInvalid):
        redeem(account, issued.code, phone=OTHER)
    assert not AccountContact.objects.filter(phone=OTHER).exists()
    (event,) = AuditEvent.objects.filter(action="account_invitation.redeem")
    assert event.object_id == str(issued.invitation.id)
    assert event.after["consumed_at"] and event.after["consumed_by_phone"] != STRANGER
    assert "code_hash" not in event.after


def test_a_phone_already_linked_does_not_use_the_code(account):
    issued = account_invitation_issue(account=account)
    assert redeem(account, "000000", phone=account.owner.phone) == account
    assert redeem(account, issued.code) == account  # still unused


def test_wrong_codes_are_counted_and_the_fifth_locks_the_invitation(account):
    issued = account_invitation_issue(account=account)
    wrong = "999999" if issued.code != "999999" else "000000"
    for left in (4, 3, 2, 1):
        with pytest.raises(InvitationInvalid) as caught:
            redeem(account, wrong)
        assert caught.value.extra == {"attempts_left": left}
    with pytest.raises(InvitationLocked):
        redeem(account, wrong)
    with pytest.raises(InvitationLocked):
        redeem(account, issued.code)  # even the right code, now
    assert AccountInvitation.objects.get().attempts == 5


def test_a_code_expires_after_thirty_days(account):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        issued = account_invitation_issue(account=account)
        clock.shift(timedelta(days=30))
        with pytest.raises(InvitationExpired):
            redeem(account, issued.code)


def test_a_code_works_until_the_last_second(account):
    now = timezone.now()
    with time_machine.travel(now, tick=False) as clock:
        issued = account_invitation_issue(account=account)
        clock.shift(timedelta(days=30) - timedelta(seconds=1))
        assert redeem(account, issued.code) == account


def test_a_new_letter_retires_the_older_code(account):
    old = account_invitation_issue(account=account)
    new = account_invitation_issue(account=account)
    if old.code != new.code:
        with pytest.raises(InvitationInvalid):
            redeem(account, old.code)
    assert redeem(account, new.code) == account


def test_unknown_accounts_and_mistyped_numbers_get_the_same_answer(account):
    with pytest.raises(InvitationInvalid):
        account_invitation_redeem(account_number="100000099", code="123456", phone=STRANGER)
    with pytest.raises(InvitationInvalid):  # no invitation issued
        redeem(account, "123456")


def test_no_code_for_a_closed_account(account):
    account.status = AccountStatus.CLOSED
    account.save()
    with pytest.raises(Exception, match="closed"):
        account_invitation_issue(account=account)


def at_once(phones: list[str], action) -> list[tuple]:
    """Run action(phone) for every phone in its own thread, all released together; returns
    (the result, or the exception's class name; the exception's extra or None) per phone."""
    barrier, results = threading.Barrier(len(phones)), []

    def run(phone: str) -> None:
        try:
            barrier.wait(timeout=10)
            results.append((action(phone), None))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results.append((type(exc).__name__, getattr(exc, "extra", None)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(phone,)) for phone in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_code_redeemed_from_several_phones_at_once_links_one():
    account = account_make()
    issued = account_invitation_issue(account=account)
    phones = [f"+2547120001{i:02d}" for i in range(6)]

    results = at_once(phones, lambda phone: redeem(account, issued.code, phone=phone).pk)

    assert [str(value) for value, _ in results].count(str(account.pk)) == 1
    assert AccountContact.objects.filter(account=account).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_wrong_codes_tried_at_once_are_each_counted_once():
    account = account_make()
    issued = account_invitation_issue(account=account)
    wrong = "999999" if issued.code != "999999" else "000000"
    phones = [f"+2547120002{i:02d}" for i in range(MAX_ATTEMPTS + 2)]

    results = at_once(phones, lambda phone: redeem(account, wrong, phone=phone))

    assert AccountInvitation.objects.get().attempts == MAX_ATTEMPTS
    left = sorted(extra["attempts_left"] for name, extra in results if name == "InvitationInvalid")
    assert left == list(range(1, MAX_ATTEMPTS))  # each try saw the count the others left
    assert [name for name, _ in results].count("InvitationLocked") == 3


@pytest.mark.parametrize("role", [Role.AGENT, Role.MANAGER])
def test_agents_and_managers_issue_a_code_shown_in_the_response_only(account, role):
    staff = staff_make(role)
    response = client_for(staff).post(f"/api/accounts/{account.pk}/invitations")
    assert response.status_code == 201
    body = response.json()
    assert body["account"] == account.pk and body["account_number"] == account.number
    assert re.fullmatch(r"\d{6}", body["code"])
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="account_invitation.issue")
    assert event.actor == staff
    assert body["code"] not in json.dumps([event.before, event.after])
    assert redeem(account, body["code"]) == account


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CUSTOMER])
def test_other_roles_may_not_issue_codes(account, role):
    response = client_for(staff_make(role)).post(f"/api/accounts/{account.pk}/invitations")
    assert response.status_code == 403
    assert not AccountInvitation.objects.exists()


def test_issuing_needs_a_login_and_an_existing_account(account, client):
    assert client.post(f"/api/accounts/{account.pk}/invitations").status_code == 401
    agent = client_for(staff_make(Role.AGENT))
    assert agent.post("/api/accounts/999999/invitations").status_code == 404


def test_the_command_prints_the_code_once(account, capsys):
    call_command("ussd_invite", account.number)
    out = capsys.readouterr().out
    code = re.search(r": (\d{6})\n", out)[1]
    assert redeem(account, code) == account
    with pytest.raises(CommandError):
        call_command("ussd_invite", "100000099")


def test_a_phone_links_its_account_by_ussd(demo, at):
    issued = account_invitation_issue(account=demo.fatou)
    session = at(STRANGER)
    session.walk("1", demo.fatou.number)
    assert session.send(issued.code) == (
        f"CON Acct {demo.fatou.number} is now linked to this phone.\nMalipo Utilities\n"
        "1 Balance\n2 Last bill\n3 Pay\n4 Meter reading\n5 Mini statement\n6 Language\n7 Help"
    )
    assert session.send("1") == "CON Acct 100000040\nYou owe KES 2,030.00.\n0 Back 00 Home"
    assert at(STRANGER).walk("1").startswith("CON Acct 100000040")


def test_a_linked_account_joins_the_session_as_a_new_session_reads_it(demo, at):
    issued = account_invitation_issue(account=demo.fatou)
    session = at(STRANGER)
    session.walk("1", demo.fatou.number, issued.code)
    state = session_load("africastalking", session.session_id, STRANGER, SERVICE_CODE).state
    fresh = caller_load(STRANGER, operator_for_code(SERVICE_CODE))
    assert state["accounts"] == fresh.accounts and len(fresh.accounts) == 1
    assert state["ops"] == fresh.operators


def test_a_wrong_code_by_ussd_asks_again_and_the_fifth_ends(demo, at):
    issued = account_invitation_issue(account=demo.fatou)
    wrong = "999999" if issued.code != "999999" else "000000"
    session = at(STRANGER)
    session.walk("1", demo.fatou.number)
    for _ in range(4):
        assert session.send(wrong) == (
            "CON Wrong account number or code.\nEnter your account number (on your letter):\n"
            "0 Back 00 Home"
        )
        session.send(demo.fatou.number)
    assert session.send(wrong) == ("END Too many wrong codes. Ask our office for a new letter.")
    assert not AccountContact.objects.filter(phone=STRANGER).exists()


def test_a_mistyped_account_number_is_caught_before_the_code(demo, at):
    session = at(STRANGER)
    session.walk("1")
    assert session.send("100000012").startswith(
        "CON This account number is not valid. Check the digits.\nEnter your account number"
    )


def test_a_linked_phone_links_nothing_more(demo, at):
    assert "1 Link my account" not in at(WANJIRU).walk()


def test_the_endpoint_is_documented_without_schema_warnings(tmp_path):
    GENERATOR_STATS.reset()
    out = tmp_path / "schema.yml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(out),
    )
    assert "/api/accounts/{account_id}/invitations:" in out.read_text()
