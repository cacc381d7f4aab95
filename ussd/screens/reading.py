"""Sending a meter reading: the index is checked against the meter's last readings (billing's
metering rules, on what the session read once) and priced as soon as it is typed; confirming
hands it to a worker that records it with billing's `reading_submit` (customer readings wait
for review) and texts the customer billing's notice. The reading's time is fixed by the
confirming hop, so a task delivered twice records it once (ussd.services)."""

import logging
import re
from decimal import Decimal
from functools import partial

from django.utils import timezone

from accounts.errors import ApplicationError
from billing.models import Meter, ServiceAccount
from billing.money import Money
from billing.services.invoices import account_lines, operator_today, tariff_rates_priced
from billing.services.metering import (
    MeterState,
    ReadingBelowPrevious,
    index_text,
    reading_consumption,
    register_turn,
)
from billing.services.readings import meter_state
from ussd.context import Ctx
from ussd.registry import screen
from ussd.replies import Continue, End, Reply
from ussd.screens.account import date_text, quantity_text
from ussd.selectors import account_meters
from ussd.tasks import reading_record

logger = logging.getLogger(__name__)

INDEX = re.compile(r"^\d{1,11}(\.\d{1,3})?$")


def _meters(ctx: Ctx) -> list[dict]:
    """The account's meters in service (kept in the session)."""
    return ctx.remembered("meters", lambda: account_meters(ctx.data["account"]))


def _state(ctx: Ctx, meter: dict) -> MeterState:
    """What a new reading of the meter is measured against, with its last accepted reading
    (one query, kept in the session: it serves the screen and then the typed index)."""
    row = Meter(pk=meter["id"], max_index=meter["max_index"], initial_index=meter["initial"])
    return ctx.remembered(f"meter-state:{meter['id']}", lambda: meter_state(row))


def _last_reading(ctx: Ctx, meter: dict) -> tuple[str, str] | None:
    """(index, date) of the meter's last accepted reading, as shown."""
    last = _state(ctx, meter).last
    return None if last is None else (index_text(last[0]), date_text(ctx.local(last[1])))


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
    if not INDEX.match(typed) or Decimal(typed) >= register_turn(meter["max_index"]):
        return ctx.invalid("reading_invalid")
    index = Decimal(typed)
    try:
        consumption, _ = reading_consumption(_state(ctx, meter), index)
    except ReadingBelowPrevious as exc:
        return ctx.invalid("reading_below", previous=exc.extra["previous_index"])
    account = ctx.account()
    cost = estimate(account, consumption) if consumption else None
    ctx.data.update(
        index=index_text(index),
        quantity=quantity_text(consumption, account.utility),
        cost=None if cost is None else cost.minor,
    )
    return ctx.go("reading.confirm")


def estimate(account: ServiceAccount, consumption: Decimal) -> Money | None:
    """What `consumption` would cost on this month's bill (tariff, standing charge, VAT)."""
    month = operator_today(account.operator).replace(day=1)
    try:
        rates, prices = tariff_rates_priced(tariff_id=account.tariff_id, month=month)
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
    ctx.once_saved(
        partial(
            reading_record.delay,
            ctx.session_id,
            meter["id"],
            index,
            timezone.now().isoformat(),
            ctx.user_id,
            ctx.phone,
            ctx.lang,
        )
    )
    logger.info("ussd reading confirmed", extra={"session_id": ctx.session_id})
    quantity, cost = ctx.data.get("quantity", "-"), ctx.data.get("cost")
    if cost is None:
        return End(ctx.t("reading_done_plain", index=index, quantity=quantity))
    return End(ctx.t("reading_done", index=index, quantity=quantity, amount=ctx.money(cost)))
