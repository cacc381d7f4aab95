"""Sealing: a message body holding a secret is kept encrypted while it waits to be sent."""

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    secret = settings.SMS_OUTBOX_SEAL_KEY or settings.SECRET_KEY
    key = hashlib.sha256(b"malipo-sms-outbox-seal:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def body_seal(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def body_unseal(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()
