"""Sending a meter reading: checked against the last one by billing's `reading_submit`
(customer readings wait for review), answered with the units used and what they would cost."""

import logging
import re
from decimal import Decimal

from django.utils import timezone

from accounts.errors import ApplicationError
from accounts.models import User
from billing.models import Meter, ReadingSource, ServiceAccount
from billing.money import Money
from billing.services.invoices import (
    account_lines,
    index_prices,
    operator_today,
    period_bounds,
    tariff_rates,
)
from billing.services.metering import index_text
from billing.services.readings import ReadingBelowPrevious, ReadingInvalid, reading_submit
from ussd.context import Ctx
from ussd.registry import screen
from ussd.replies import Continue, End, Reply
from ussd.screens.account import date_text, quantity_text
from ussd.selectors import account_meters, meter_last_reading

logger = logging.getLogger(__name__)

INDEX = re.compile(r"^\d{1,11}(\.\d{1,3})?$")


def _meters(ctx: Ctx) -> list[dict]:
    """The account's meters in service (kept in the session)."""
    return ctx.remembered("meters", lambda: account_meters(ctx.data["account"]))


def _last_reading(ctx: Ctx, meter: dict) -> tuple[str, str] | None:
    """(index, date) of the meter's last accepted reading, as shown (kept in the session)."""

    def read() -> tuple[str, str] | None:
        last = meter_last_reading(meter["id"])
        return None if last is None else (index_text(last[0]), date_text(ctx.local(last[1])))

    return ctx.remembered(f"last-reading:{meter['id']}", read)


@screen("reading", targets=("reading.confirm",), flow="menu_reading")
def reading(ctx: Ctx, answer: str | None) -> Reply:
    meters = _meters(ctx)
    if not meters:
        if answer is not None:
            return ctx.invalid()
        return Continue(ctx.t("reading_none", number=ctx.account_row()["number"]), next="reading")
    if len(meters) == 1:
        ctx.data["meter"] = 0
    if "meter" not in ctx.data:
        if answer is None:
            options = [f"{n} {m['serial'][:16]}" for n, m in enumerate(meters, start=1)]
            return Continue("\n".join([ctx.t("choose_meter"), *options]), next="reading")
        if not answer.isdigit() or not 1 <= int(answer) <= len(meters):
            return ctx.invalid()
        ctx.data["meter"] = int(answer) - 1
        return reading(ctx, None)
    meter = meters[ctx.data["meter"]]
    if answer is None:
        serial = meter["serial"][:16]
        last = _last_reading(ctx, meter)
        if last is None:
            return Continue(ctx.t("reading_enter_first", serial=serial), next="reading")
        body = ctx.t("reading_enter", serial=serial, index=last[0], date=last[1])
        return Continue(body, next="reading")
    typed = answer.replace(",", ".").replace(" ", "")
    if not INDEX.match(typed):
        return ctx.invalid("reading_invalid")
    ctx.data["index"] = index_text(Decimal(typed))
    return ctx.go("reading.confirm")


def estimate(account: ServiceAccount, consumption: Decimal) -> Money | None:
    """What `consumption` would cost on this month's bill (tariff, standing charge, VAT)."""
    month = operator_today(account.operator).replace(day=1)
    try:
        rates = tariff_rates(tariff_ids=[account.tariff_id], period_end=period_bounds(month)[1])
        prices = index_prices(operator=account.operator, month=month)
        lines = account_lines(
            account=account, rates=rates, prices=prices, consumption=consumption, period=month
        )
    except ApplicationError:
        return None
    return Money(sum(line.amount.minor for line in lines), account.operator.currency)


@screen("reading.confirm", flow="menu_reading")
def reading_confirm(ctx: Ctx, answer: str | None) -> Reply:
    meter = _meters(ctx)[ctx.data["meter"]]
    index = ctx.data["index"]
    if answer is None:
        body = ctx.t("reading_confirm", index=index, serial=meter["serial"][:16])
        return Continue(body, next="reading.confirm")
    if answer != "1":
        return ctx.invalid()
    account = ctx.account()
    try:
        recorded = reading_submit(
            meter=Meter(pk=meter["id"], account_id=account.pk),
            index=Decimal(index),
            read_at=timezone.now(),
            source=ReadingSource.CUSTOMER_USSD,
            submitted_by=User(pk=ctx.user_id) if ctx.user_id else None,
        )
    except ReadingBelowPrevious as exc:
        return ctx.back(ctx.t("reading_below", previous=exc.extra["previous_index"]))
    except ReadingInvalid:
        return ctx.back(ctx.t("reading_invalid"))
    except ApplicationError as exc:
        return End(ctx.error(exc.code))
    logger.info("ussd reading sent", extra={"session_id": ctx.session_id, "reading": recorded.pk})
    quantity = quantity_text(recorded.consumption, account.utility)
    cost = estimate(account, recorded.consumption) if recorded.consumption else None
    if cost is None:
        return End(ctx.t("reading_done_plain", index=index, quantity=quantity))
    return End(ctx.t("reading_done", index=index, quantity=quantity, amount=cost))
