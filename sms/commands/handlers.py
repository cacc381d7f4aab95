"""Carrying out a customer's SMS command: find the account, call billing or payments, reply.

An interface layer like the REST API: no business rules here, only services of the others.
A phone sees the accounts it owns or is a contact of; an account number the phone is not
linked to gets the same answer whether it exists or not. Every reply goes through the outbox
(kind "reply", keyed on the inbound message, so a re-delivered message is answered once).
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.errors import ApplicationError
from accounts.models import User
from billing.account_numbers import account_number_clean
from billing.models import ReadingSource, ServiceAccount
from billing.money import Money
from billing.selectors import account_balance, account_last_invoice
from billing.services.readings import reading_submit
from billing.summaries import invoice_summary_sms
from payments.services.intents import payment_intent_create
from sms.commands.parser import Command, command_parse
from sms.contacts import contact_language_set, contact_opt_in, contact_opt_out
from sms.models import InboundMessage, MessageKind, OutboundMessage, SmsContact
from sms.services import message_queue
from sms.texts import ERROR_TEXTS, text_render

logger = logging.getLogger(__name__)

SHOWN_ACCOUNTS = 3  # a "which account?" reply lists at most this many


class _Answer(Exception):
    """Stops a command with a reply (a template key and its fields)."""

    def __init__(self, key: str, **fields: str) -> None:
        self.key, self.fields = key, fields
        super().__init__(key)


def phone_accounts(phone: str) -> list[ServiceAccount]:
    """The accounts a phone owns or is a contact of, by number."""
    return list(
        ServiceAccount.objects.filter(Q(owner__phone=phone) | Q(contacts__phone=phone))
        .select_related("operator")
        .distinct()
        .order_by("number")
    )


def _language(phone: str, command: Command) -> str:
    chosen = SmsContact.objects.filter(phone=phone).values_list("language", flat=True).first()
    if chosen:
        return chosen
    if command.language:
        return command.language
    user_language = User.objects.filter(phone=phone).values_list("language", flat=True).first()
    return user_language or ""


def _account(command: Command, phone: str) -> ServiceAccount:
    accounts = phone_accounts(phone)
    if command.account is not None:
        number = account_number_clean(command.account)
        for account in accounts:
            if account.number == number:
                return account
        typed = "".join(ch for ch in command.account if ch.isdigit())[:12]
        raise _Answer("account_unknown", number=typed)
    if not accounts:
        raise _Answer("no_account")
    if len(accounts) > 1:
        numbers = ", ".join(a.number for a in accounts[:SHOWN_ACCOUNTS])
        more = "..." if len(accounts) > SHOWN_ACCOUNTS else ""
        raise _Answer("pick_account", numbers=numbers + more, example=accounts[0].number)
    return accounts[0]


def _balance(command: Command, inbound: InboundMessage, language: str, account) -> str:
    owed = account_balance(account)
    if owed.minor > 0:
        return text_render("balance_due", language, number=account.number, amount=owed.format())
    credit = Money(-owed.minor, owed.currency).format()
    return text_render("balance_credit", language, number=account.number, amount=credit)


def _bill(command: Command, inbound: InboundMessage, language: str, account) -> str:
    invoice = account_last_invoice(account)
    if invoice is None:
        raise _Answer("no_bill", number=account.number)
    return invoice_summary_sms(invoice, language)


def _pay(command: Command, inbound: InboundMessage, language: str, account) -> str:
    try:
        amount = Money.of(command.amount, account.operator.currency)
    except ValueError:
        raise _Answer("amount_invalid") from None
    if amount.minor <= 0:
        raise _Answer("amount_invalid")
    payment_intent_create(
        account=account,
        phone=inbound.phone,
        amount=amount,
        channel="sms",
        idempotency_key=f"sms:{inbound.gateway}:{inbound.external_id}",
        network_code=inbound.network_code or None,
    )
    return text_render("pay_started", language, amount=amount.format(), number=account.number)


def _read(command: Command, inbound: InboundMessage, language: str, account) -> str:
    meter = account.meters.filter(removed_at__isnull=True).order_by("-installed_at").first()
    if meter is None:
        raise _Answer("no_meter", number=account.number)
    reading_submit(
        meter=meter,
        index=command.index,
        read_at=timezone.now(),
        source=ReadingSource.CUSTOMER_SMS,
        submitted_by=User.objects.filter(phone=inbound.phone).first(),
    )
    index = format(command.index.quantize(Decimal("0.001")).normalize(), "f")
    return text_render("read_received", language, index=index, number=account.number)


def _simple(command: Command, inbound: InboundMessage, language: str) -> str:
    if command.name == "stop":
        contact_opt_out(phone=inbound.phone)
        return text_render("stop_ack", language)
    if command.name == "start":
        contact_opt_in(phone=inbound.phone)
        return text_render("start_ack", language)
    if command.name == "lang":
        if command.target_language is None:
            raise _Answer("lang_usage")
        contact_language_set(phone=inbound.phone, language=command.target_language)
        return text_render("lang_set", command.target_language)
    return text_render("help", language)


_ACCOUNT_COMMANDS = {"bal": _balance, "bill": _bill, "pay": _pay, "read": _read}
# Commands that need a number, checked before the account: (field, reply when missing).
_USAGE = {"pay": ("amount", "pay_usage"), "read": ("index", "read_usage")}


def _reply(command: Command, inbound: InboundMessage, language: str):
    """The reply text, and the account it is about (None when there is not one)."""
    account = None
    try:
        with transaction.atomic():
            field, usage = _USAGE.get(command.name, (None, None))
            if field and getattr(command, field) is None:
                raise _Answer(usage)
            handler = _ACCOUNT_COMMANDS.get(command.name)
            if handler is None:
                return _simple(command, inbound, language), None
            account = _account(command, inbound.phone)
            return handler(command, inbound, language, account), account
    except _Answer as answer:
        return text_render(answer.key, language, **answer.fields), account
    except ApplicationError as exc:
        logger.info("sms command refused", extra={"command": command.name, "code": exc.code})
        key = ERROR_TEXTS.get(exc.code, "error")
        number = account.number if account is not None else ""
        return text_render(key, language, code=exc.code, number=number), account


@transaction.atomic
def inbound_handle(*, inbound: InboundMessage) -> OutboundMessage:
    """Carry out the command in a stored inbound message and queue the reply, once."""
    command = command_parse(inbound.text)
    language = _language(inbound.phone, command)
    text, account = _reply(command, inbound, language)
    reply = message_queue(
        to=inbound.phone,
        body=text,
        kind=MessageKind.REPLY,
        idempotency_key=f"reply:{inbound.gateway}:{inbound.external_id}",
        account=account,
    )
    inbound.command = command.name if command.understood else "unknown"
    inbound.handled_at = timezone.now()
    inbound.save(update_fields=["command", "handled_at"])
    return reply
