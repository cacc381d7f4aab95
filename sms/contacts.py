"""The people we text: language, opt-out (STOP/START) and blocks reported by a gateway."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.phones import phone_mask
from sms.models import SmsContact

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "sw")


def contact_get(phone: str, *, lock: bool = False) -> SmsContact:
    """The contact row of `phone`, created on first use (locked when `lock`, in a transaction)."""
    rows = SmsContact.objects.select_for_update() if lock else SmsContact.objects
    contact = rows.filter(phone=phone).first()
    if contact is not None:
        return contact
    # One statement, whoever wins a race to create it (INSERT ... ON CONFLICT DO NOTHING).
    SmsContact.objects.bulk_create([SmsContact(phone=phone)], ignore_conflicts=True)
    return rows.get(phone=phone)


def recipient_language(phone: str) -> str:
    """The language to text `phone` in: its own choice (LANG), its user's, or the default."""
    chosen = SmsContact.objects.filter(phone=phone).values_list("language", flat=True).first()
    if chosen:
        return chosen
    user_language = User.objects.filter(phone=phone).values_list("language", flat=True).first()
    if user_language in LANGUAGES:
        return user_language
    return settings.LANGUAGE_CODE


@transaction.atomic
def contact_opt_out(*, phone: str) -> SmsContact:
    """STOP: no more reminders and broadcasts (bills, notices, receipts and codes still go)."""
    contact = contact_get(phone, lock=True)
    if not contact.opted_out:
        contact.opted_out, contact.opted_out_at = True, timezone.now()
        contact.save(update_fields=["opted_out", "opted_out_at"])
    return contact


@transaction.atomic
def contact_opt_in(*, phone: str) -> SmsContact:
    """START: back into reminders and broadcasts."""
    contact = contact_get(phone, lock=True)
    if contact.opted_out:
        contact.opted_out, contact.opted_out_at = False, None
        contact.save(update_fields=["opted_out", "opted_out_at"])
    return contact


@transaction.atomic
def contact_language_set(*, phone: str, language: str) -> SmsContact:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    contact = contact_get(phone, lock=True)
    contact.language = language
    contact.save(update_fields=["language"])
    return contact


@transaction.atomic
def contact_block(*, phone: str, gateway: str, reason: str) -> SmsContact:
    """Record that `gateway` refuses `phone` (shown to staff; later sends use other gateways)."""
    contact = contact_get(phone, lock=True)
    if gateway not in contact.blocked_on:
        contact.blocked_gateways = ",".join([*contact.blocked_on, gateway])
    contact.blocked_reason, contact.blocked_at = f"{gateway}: {reason}"[:100], timezone.now()
    contact.save(update_fields=["blocked_gateways", "blocked_reason", "blocked_at"])
    logger.warning(
        "recipient blocked by gateway", extra={"to": phone_mask(phone), "gateway": gateway}
    )
    return contact
