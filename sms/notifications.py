"""Texts we send about a person's identity, and the functions that compose and queue them.

Every text is GSM-7 and fits in one SMS (160 characters), in each language we speak.
"""

from django.conf import settings
from django.db import transaction

from accounts.services.activation import CODE_TTL, ActivationSend, activation_start
from sms.models import MessageKind
from sms.services import message_queue

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
