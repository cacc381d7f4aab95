"""Query budgets: every hop makes at most 4 SQL statements, savepoints included (the session
keeps what the first hop read). Confirming a payment or a meter reading writes nothing in the
hop: a worker records it once the hop has answered (ussd.services)."""

import pytest

from billing.models import AccountContact
from billing.models.invitations import AccountInvitation
from billing.services.invitations import MAX_ATTEMPTS, account_invitation_issue
from tests.payments.support import mpesa_conf
from tests.ussd.support import FATOU, OTIENO, STRANGER, WANJIRU
from ussd.texts import LANGUAGES, ascii_fold, text

pytestmark = pytest.mark.django_db

WALKS = [
    (WANJIRU, ("1", "0", "2", "1", "00", "5", "0", "7", "0", "6", "0")),
    (OTIENO, ("1", "2", "0", "1", "00", "2", "1", "00", "5", "2", "98", "00")),
    (OTIENO, ("3", "1", "2", "5", "0", "1", "0", "0", "0")),
    (WANJIRU, ("4", "12", "0", "x", "00")),
    (FATOU, ("3", "2", "99999999999", "100", "00", "6", "2")),
    (STRANGER, ("1", "123", "100000011", "0", "7", "00")),
    # to the end of each flow that writes: pay (the sandbox, then M-Pesa's spacing check),
    # a meter reading (checked and priced), a reading below the last one
    (OTIENO, ("3", "1", "1", "1")),
    (FATOU, ("3", "2", "500", "1")),
    (WANJIRU, ("4", "1230", "1")),
    (OTIENO, ("4", "1", "5000", "5090.5", "0", "5091", "1")),
    (WANJIRU, ("6", "2", "3", "2", "100", "1")),
]


@pytest.mark.parametrize("provider", ["sandbox", "mpesa"])
@pytest.mark.parametrize(("phone", "answers"), WALKS)
def test_every_hop_makes_at_most_four_statements(
    demo, at, sandbox, settings, django_assert_max_num_queries, phone, answers, provider
):
    if provider == "mpesa":
        settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    session = at(phone)
    with django_assert_max_num_queries(4):
        session.walk()
    for answer in answers:
        with django_assert_max_num_queries(4):
            session.send(answer)
    assert session.ended or answers[-1] != "1", session.body


def _wrong(code: str) -> str:
    return "999999" if code != "999999" else "000000"


@pytest.mark.parametrize("walk", ["right", "wrong then right", "wrong until locked", "no letter"])
def test_linking_by_code_makes_at_most_four_statements_a_hop(
    demo, at, django_assert_max_num_queries, walk
):
    """A phone with no account types an account number and its letter's code: the code is
    checked, counted or used, and the account linked, within the hop's budget."""
    code = account_invitation_issue(account=demo.fatou).code
    number = demo.fatou.number
    answers = {
        "right": ("1", number, code, "1"),
        "wrong then right": ("1", number, _wrong(code), number, code, "1"),
        "wrong until locked": ("1", *(number, _wrong(code)) * MAX_ATTEMPTS),
        "no letter": ("1", demo.otieno_water.number, code),
    }[walk]
    session = at(STRANGER)
    with django_assert_max_num_queries(4):
        session.walk()
    for answer in answers:
        with django_assert_max_num_queries(4):
            session.send(answer)
    linked = AccountContact.objects.filter(phone=STRANGER).values_list("account", flat=True)
    invitation = AccountInvitation.objects.get(account=demo.fatou)
    if walk == "wrong until locked":
        assert session.ended and invitation.attempts == MAX_ATTEMPTS
    elif walk == "no letter":
        assert not session.ended and invitation.consumed_at is None
    else:
        assert session.screen.startswith(f"Acct {number}\n")  # its balance, as a linked phone
        assert invitation.consumed_at is not None
    assert list(linked) == ([demo.fatou.pk] if walk.endswith("right") else [])


def test_going_back_to_a_screen_reads_the_session_not_the_database(
    demo, at, sandbox, django_assert_num_queries
):
    session = at(OTIENO)
    session.walk("3", "1", "2")
    with django_assert_num_queries(0):
        assert session.send("0").startswith("CON Lipa akaunti 100000022\n1 Yote: KES 900.00")
    with django_assert_num_queries(0):
        session.send("0", "0", "1")  # the same account's balance: already read


CHAINED = [
    (WANJIRU, "4*1230"),  # *384*12*4*1230#: the reading screen, the index checked and priced
    (WANJIRU, "4*1230*1"),
    (OTIENO, "1*2"),
    (OTIENO, "3*1*2"),
    (FATOU, "3*2*500*1"),
]


@pytest.mark.parametrize(("phone", "dialled"), CHAINED)
def test_a_chained_dial_answers_in_one_hop_within_the_budget(
    demo, at, sandbox, django_assert_max_num_queries, phone, dialled
):
    """A dial that carries its answers (*384*12*4*1230#) is one hop doing the work of several:
    within 4 statements once the code's operator is remembered (kept OPERATOR_TTL after any
    hop to the code), one more for the first hop to the code after that."""
    at(STRANGER).walk()  # any earlier hop to the code remembers its operator
    session = at(phone)
    with django_assert_max_num_queries(4):
        body = session.post(dialled)
    apologies = {ascii_fold(text(language, "fault")) for language in LANGUAGES}
    assert body.startswith(("CON ", "END ")) and body[4:] not in apologies
