"""Whatever a gateway sends as `text`, and wherever a customer wanders: always a 200, always
CON or END, never more than 182 characters, never an exception behind the polite apology."""

import logging
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ussd.support import CONTACT, FATOU, OTIENO, STRANGER, WANJIRU, AtGateway

pytestmark = pytest.mark.django_db

PHONES = (WANJIRU, OTIENO, FATOU, CONTACT, STRANGER)
# What customers type: menu keys, navigation, amounts, readings, account numbers, codes, junk.
ANSWERS = st.one_of(
    st.sampled_from(
        ["0", "00", "1", "2", "3", "4", "5", "6", "7", "8", "9", "98", "99", "", "1", "2", "1"]
    ),
    st.sampled_from(["100", "1200.50", "0.001", "1300", "99999999", "100000011", "123456"]),
    st.text(alphabet="0123456789*#.", max_size=12),
    st.text(max_size=20),
)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _no_failures(caplog) -> None:
    failures = [
        r for r in caplog.records if r.name.startswith("ussd") and r.levelno >= logging.ERROR
    ]
    assert not failures, [r.getMessage() for r in failures]


@PROPERTY_SETTINGS
@given(phone=st.sampled_from(PHONES), texts=st.lists(st.text(max_size=60), max_size=4))
def test_any_text_gets_a_well_formed_reply(demo, sandbox, client, caplog, phone, texts):
    caplog.clear()
    session = AtGateway(client, phone, session_id=f"ATUid_{uuid.uuid4().hex}")
    session.post("")
    for text in texts:
        if session.ended:
            break
        session.post(text)  # raises unless 200, CON/END and at most 182 characters
    _no_failures(caplog)


@PROPERTY_SETTINGS
@given(phone=st.sampled_from(PHONES), answers=st.lists(ANSWERS, max_size=10))
def test_random_walks_never_break_the_session(demo, sandbox, client, caplog, phone, answers):
    caplog.clear()
    session = AtGateway(client, phone)
    session.walk()
    for answer in answers:
        if session.ended:
            break
        session.send(answer)
    _no_failures(caplog)
