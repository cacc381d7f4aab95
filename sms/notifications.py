"""Notifications: the functions other apps call to text a customer about an event.

- `activation_code_send` (accounts' activation): the code, or a notice to the number's owner;
- `invoice_issued_notify(invoice)` (billing): the bill, in billing's one-SMS summary;
- `reading_result_notify(reading)` (billing): a customer's reading accepted, held or refused;
- receipts are queued by payments (kind "receipt", keyed on the payment); `receipt_text` here
  is the localised wording.
Each is keyed on its event, so calling it again sends nothing more, and each joins the
caller's transaction. Every text is GSM-7 and fits in one SMS, in each language we speak.
Billing objects are read by attribute (this app does not import billing at module level).
"""

from django.conf import settings
from django.db import transaction

from accounts.services.activation import CODE_TTL, ActivationSend, activation_start
from sms.contacts import recipient_language
from sms.models import MessageKind, OutboundMessage
from sms.services import message_queue
from sms.texts import text_render

# Reading status -> text; readings customers sent are the ones they hear back about.
READING_TEXTS = {
    "accepted": "reading_accepted",
    "pending_review": "reading_held",
    "rejected": "reading_rejected",
}
CUSTOMER_READING_SOURCES = frozenset({"customer_sms", "customer_ussd"})

ACTIVATION_CODE_TEXTS = {
    "en": "Malipo code: {code}. It expires in {minutes} minutes. Never share it.",
    "fr": "Code Malipo : {code}. Il expire dans {minutes} minutes. Ne le partagez jamais.",
    "sw": "Nambari ya Malipo: {code}. Itaisha baada ya dakika {minutes}. Usimpe mtu yeyote.",
}

ACTIVATION_OWNER_NOTICE_TEXTS = {
    "en": (
        "Someone asked to register this number on Malipo. "
        "If it was you, log in; otherwise ignore this message."
    ),
    "fr": (
        "Quelqu'un a demandé à inscrire ce numéro sur Malipo. "
        "Si c'était vous, connectez-vous ; sinon ignorez ce message."
    ),
    "sw": (
        "Mtu ameomba kusajili nambari hii kwenye Malipo. "
        "Kama ni wewe, ingia; vinginevyo puuza ujumbe huu."
    ),
}


def _in_language(texts: dict[str, str], language: str) -> str:
    return texts.get(language) or texts.get(settings.LANGUAGE_CODE) or texts["en"]


def activation_code_text(*, code: str, language: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return _in_language(ACTIVATION_CODE_TEXTS, language).format(code=code, minutes=minutes)


def activation_owner_notice_text(*, language: str) -> str:
    return _in_language(ACTIVATION_OWNER_NOTICE_TEXTS, language)


@transaction.atomic
def activation_code_send(*, phone: str, ip: str | None) -> ActivationSend:
    """Start an activation for `phone` and queue what it must receive, in one transaction.

    An inactive number gets its code (kept out of the database: masked body, sealed text);
    an active number's owner gets a notice instead. Limits and errors: `activation_start`.
    """
    send = activation_start(phone=phone, ip=ip)
    if send.code is not None:
        message_queue(
            to=send.phone,
            body=activation_code_text(code=send.code, language=send.language),
            kind=MessageKind.OTP,
            idempotency_key=f"otp:{send.challenge_id}",
            secret=send.code,
        )
    else:
        message_queue(
            to=send.phone,
            body=activation_owner_notice_text(language=send.language),
            kind=MessageKind.NOTICE,
            idempotency_key=f"activation-notice:{send.challenge_id}",
        )
    return send


def invoice_issued_notify(invoice) -> OutboundMessage:
    """Text the account holder their new bill, once per invoice, in their language."""
    from billing.summaries import invoice_summary_sms  # the bill's wording belongs to billing

    account = invoice.account
    phone = account.owner.phone
    return message_queue(
        to=phone,
        body=invoice_summary_sms(invoice, recipient_language(phone)),
        kind=MessageKind.BILL,
        idempotency_key=f"bill:{invoice.pk}",
        account=account,
    )


def reading_result_notify(reading) -> OutboundMessage | None:
    """Tell whoever sent a customer reading that it was accepted, is held for review, or was
    refused; once per reading and status. Readings by staff or estimates: nothing is sent."""
    key = READING_TEXTS.get(reading.status)
    if key is None or reading.source not in CUSTOMER_READING_SOURCES:
        return None
    meter = reading.meter
    account = meter.account
    phone = reading.submitted_by.phone if reading.submitted_by_id else account.owner.phone
    index = format(reading.index.normalize(), "f")
    body = text_render(
        key, recipient_language(phone), index=index, unit=meter.unit, number=account.number
    )
    return message_queue(
        to=phone,
        body=body,
        kind=MessageKind.NOTICE,
        idempotency_key=f"reading:{reading.pk}:{reading.status}",
        account=account,
    )


def receipt_text(*, language: str, amount: str, number: str, balance: str, reference: str) -> str:
    """A payment receipt in `language` (amounts formatted by the caller)."""
    return text_render(
        "receipt", language, amount=amount, number=number, balance=balance, reference=reference
    )
