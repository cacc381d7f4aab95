"""Encoding and segments: what a text costs, stored on every message."""

from decimal import Decimal

import pytest

from sms.encoding import GSM7, UCS2, sms_size
from sms.models import MessageKind
from sms.services import message_queue


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("Relevé à vérifier, Ç ü ñ @£$", GSM7, 28, 1),
        ("€" * 80, GSM7, 160, 1),  # extension characters count double
        ("€" * 81, GSM7, 162, 2),
        ("a" * 158 + "{", GSM7, 160, 1),
        ("ç", UCS2, 1, 1),  # lower-case ç is not GSM-7 (Ç is)
        ("ê" * 70, UCS2, 70, 1),
        ("ê" * 71, UCS2, 71, 2),
        ("ê" * 134, UCS2, 134, 2),
        ("ê" * 135, UCS2, 135, 3),
        ("😀" * 35, UCS2, 70, 1),  # one emoji is two UTF-16 units
    ],
)
def test_size_of_a_text(text, encoding, units, segments):
    size = sms_size(text)

    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_an_escape_pair_is_never_split_across_segments():
    # 152 letters then "€": 154 septets do not fit the first 153-septet segment; the pair moves.
    assert sms_size("a" * 152 + "€" + "a" * 10).segments == 2
    assert sms_size("a" * 152 + "€" + "a" * 152).segments == 3


def test_a_surrogate_pair_is_never_split_across_segments():
    assert sms_size("e" * 66 + "😀" + "ê" * 5).segments == 2
    assert sms_size("ê" * 66 + "😀" + "ê" * 66).segments == 3


@pytest.mark.django_db
def test_segments_and_encoding_are_stored_and_cost_recorded_when_sent(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.SMS_ROUTES = ["*:console"]
    settings.SMS_CONSOLE_FILE = str(tmp_path / "handset.log")
    settings.SMS_PRICES = {"*": "1.00", "+254": "0.80"}
    settings.SMS_SPEND_CURRENCY = "KES"

    with django_capture_on_commit_callbacks(execute=True):
        message = message_queue(
            to="+254712345678",
            body="Maji yatakatika kesho 😀 " * 4,
            kind=MessageKind.NOTICE,
            idempotency_key="notice:emoji",
        )
    message.refresh_from_db()

    assert (message.encoding, message.segments) == (UCS2, 2)
    assert message.status == "sent"
    assert (message.cost, message.cost_currency) == (Decimal("1.60"), "KES")
