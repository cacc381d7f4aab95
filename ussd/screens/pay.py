"""Paying: the whole balance or another amount, confirm, then a push to the caller's wallet.

The provider is the one that serves the caller's network (the gateway's networkCode, else the
number's prefix: payments.routing). The confirming hop checks what it can without writing (the
operator's amount limits, a push to this phone a moment ago) and answers; a worker then records
the payment intent, keyed "ussd:<session id>" so a retried hop cannot ask twice, and pushes it
(the PIN prompt). A refusal found by the worker reaches the customer by SMS (ussd.services).
"""

import logging
import re
from decimal import Decimal
from functools import partial

from accounts.errors import ApplicationError
from billing.models import AccountStatus
from billing.money import Money, exponent
from billing.selectors import account_balance
from payments.exceptions import AmountOutOfRange
from payments.routing import provider_route
from payments.services.rules import amount_check, push_spacing_enforce
from ussd.context import Ctx
from ussd.registry import screen
from ussd.replies import Continue, End, Reply, Retry
from ussd.tasks import payment_start

logger = logging.getLogger(__name__)

AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def amount_read(ctx: Ctx, answer: str) -> Money | Retry:
    currency = ctx.money(0).currency
    typed = answer.replace(",", "").replace(" ", "")
    if not AMOUNT.match(typed) or Decimal(typed) <= 0:
        return ctx.invalid("amount_invalid")
    try:
        return Money.of(Decimal(typed), currency)
    except ValueError:
        return ctx.invalid("amount_whole" if exponent(currency) == 0 else "amount_invalid")


def _amount_take(ctx: Ctx, amount: Money) -> Reply:
    try:
        amount_check(provider=ctx.data["provider"], amount=amount)
    except AmountOutOfRange as exc:
        if "min" not in exc.extra:
            return ctx.invalid("amount_whole")
        low, high = (Money.of(exc.extra[k], amount.currency) for k in ("min", "max"))
        return ctx.invalid("amount_range", min=low, max=high)
    ctx.data["amount"] = amount.minor
    return ctx.go("pay.confirm")


@screen("pay", targets=("pay.amount", "pay.confirm"), flow="menu_pay")
def pay(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        account = ctx.account()
        try:
            ctx.data["provider"] = provider_route(phone=ctx.phone, network_code=ctx.network)
        except ApplicationError:
            paybill = account.operator.paybill
            if not paybill:
                return End(ctx.error("error"))
            return End(ctx.t("pay_unavailable", paybill=paybill, number=account.number))
        owed = ctx.remembered("balance", lambda: account_balance(account))
        ctx.data["owed"] = owed.minor
        if owed.minor > 0:
            return Continue(ctx.t("pay_menu", number=account.number, amount=owed), next="pay")
        return Continue(ctx.t("pay_menu_nothing", number=account.number), next="pay")
    if answer == "1" and ctx.data.get("owed", 0) > 0:
        return _amount_take(ctx, ctx.money(ctx.data["owed"]))
    if answer == "2":
        return ctx.go("pay.amount")
    return ctx.invalid()


@screen("pay.amount", targets=("pay.confirm",), flow="menu_pay")
def pay_amount(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        currency = ctx.money(0).currency
        return Continue(ctx.t("pay_amount", currency=currency), next="pay.amount")
    amount = amount_read(ctx, answer)
    if isinstance(amount, Retry):
        return amount
    return _amount_take(ctx, amount)


@screen("pay.confirm", flow="menu_pay")
def pay_confirm(ctx: Ctx, answer: str | None) -> Reply:
    amount = ctx.money(ctx.data["amount"])
    if answer is None:
        number = ctx.account_row()["number"]
        body = ctx.t("pay_confirm", amount=amount, number=number, phone=ctx.phone)
        return Continue(body, next="pay.confirm")
    if answer != "1":
        return ctx.invalid()
    try:  # the common refusal, said at once; the worker checks again under a lock
        push_spacing_enforce(provider=ctx.data["provider"], phone=ctx.phone)
    except ApplicationError as exc:
        return End(ctx.error(exc.code))
    row = ctx.account_row()
    if row["status"] == AccountStatus.CLOSED:
        return End(ctx.error("account_closed"))
    ctx.once_saved(
        partial(
            payment_start.delay,
            ctx.session_id,
            row["id"],
            ctx.phone,
            amount.minor,
            amount.currency,
            ctx.data["provider"],
            ctx.network or "",
            ctx.lang,
        )
    )
    logger.info("ussd payment confirmed", extra={"session_id": ctx.session_id})
    return End(ctx.t("pay_sent"))
