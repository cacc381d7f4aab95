"""Every text we send fits one GSM-7 SMS in every language, with realistic long fields."""

import pytest

from billing.summaries import TEXTS as BILL_TEXTS
from sms.encoding import GSM7, sms_size
from sms.notifications import (
    ACTIVATION_CODE_TEXTS,
    ACTIVATION_OWNER_NOTICE_TEXTS,
    activation_code_text,
    receipt_text,
)
from sms.texts import TEXTS, text_render

LONG_FIELDS = {
    "number": "100000011",
    "amount": "KES 1,234,567.89",
    "balance": "KES 1,234,567.89",
    "index": "1234567.125",
    "unit": "kWh",
    "reference": "NLJ7RT61SV",
    "numbers": "100000011, 100000029, 100000037...",
    "example": "100000011",
    "code": "idempotency_key_reused",
}
# Texts allowed to take more than one SMS, by (key, language). None today; a new long text
# must be named here on purpose.
LONGER_THAN_ONE_SMS: set[tuple[str, str]] = set()
LANGUAGES = ("en", "fr", "sw")


@pytest.mark.parametrize(("key", "language"), [(k, lang) for k in TEXTS for lang in LANGUAGES])
def test_each_reply_and_notice_is_one_gsm7_sms(key, language):
    size = sms_size(text_render(key, language, **LONG_FIELDS))

    assert size.encoding == GSM7, (key, language)
    if (key, language) not in LONGER_THAN_ONE_SMS:
        assert size.segments == 1, (key, language, size.units)


@pytest.mark.parametrize("language", LANGUAGES)
def test_activation_texts_and_the_receipt_are_one_gsm7_sms(language):
    texts = [
        activation_code_text(code="493817", language=language),
        ACTIVATION_OWNER_NOTICE_TEXTS[language],
        receipt_text(
            language=language,
            **{k: LONG_FIELDS[k] for k in ("amount", "balance")},
            number="100000011",
            reference="NLJ7RT61SV",
        ),
    ]
    for text in texts:
        size = sms_size(text)
        assert (size.encoding, size.segments) == (GSM7, 1), text


def test_every_text_exists_in_every_language():
    for key, texts in {**TEXTS, "code": ACTIVATION_CODE_TEXTS}.items():
        assert set(texts) == set(LANGUAGES), key
    assert set(LANGUAGES) <= set(BILL_TEXTS)


def test_an_unknown_language_gets_the_default(settings):
    settings.LANGUAGE_CODE = "fr"

    assert text_render("no_account", "de") == TEXTS["no_account"]["fr"]
