"""Query budgets: a hop makes at most 4 SQL queries (the session keeps what the first hop read).

Two hops write through other apps' services and have budgets of their own: confirming a
payment (payment_intent_create: at most 4 statements besides savepoints, M-Pesa's advisory
lock and spacing check included) and confirming a meter reading (billing's reading_submit
takes 7 on its own; the estimate 3 more).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.payments.support import mpesa_conf
from tests.ussd.support import FATOU, OTIENO, STRANGER, WANJIRU

pytestmark = pytest.mark.django_db

READ_WALKS = [
    (WANJIRU, ("1", "0", "2", "1", "00", "5", "0", "7", "0", "6", "0")),
    (OTIENO, ("1", "2", "0", "1", "00", "2", "1", "00", "5", "2", "98", "00")),
    (OTIENO, ("3", "1", "2", "5", "0", "1", "0", "0", "0")),
    (WANJIRU, ("4", "12", "0", "x", "00")),
    (FATOU, ("3", "2", "99999999999", "100", "00", "6", "2")),
    (STRANGER, ("1", "123", "100000011", "0", "7", "00")),
]


@pytest.mark.parametrize(("phone", "answers"), READ_WALKS)
def test_every_hop_makes_at_most_four_queries(
    demo, at, sandbox, django_assert_max_num_queries, phone, answers
):
    session = at(phone)
    with django_assert_max_num_queries(4):
        session.walk()
    for answer in answers:
        with django_assert_max_num_queries(4):
            session.send(answer)


def _statements(captured) -> list[str]:
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def test_confirming_a_payment_stays_within_four_statements(demo, at, settings):
    settings.PAYMENT_PROVIDERS = {"mpesa": mpesa_conf()}
    session = at(OTIENO)
    session.walk("3", "1", "1")
    with CaptureQueriesContext(connection) as captured:
        assert session.send("1").startswith("END ")
    assert len(_statements(captured.captured_queries)) <= 4


def test_confirming_a_reading_stays_within_its_budget(demo, at, django_assert_max_num_queries):
    session = at(WANJIRU)
    session.walk("4", "1230")
    with django_assert_max_num_queries(12):
        assert session.send("1").startswith("END Reading 1230 received")


def test_going_back_to_a_screen_reads_the_session_not_the_database(
    demo, at, sandbox, django_assert_num_queries
):
    session = at(OTIENO)
    session.walk("3", "1", "2")
    with django_assert_num_queries(0):
        assert session.send("0").startswith("CON Lipa akaunti 100000022\n1 Yote: KES 900.00")
    with django_assert_num_queries(0):
        session.send("0", "0", "1")  # the same account's balance: already read
