"""What an account owes and what happened on it: balance, last bill, mini statement."""

from decimal import Decimal

from django.db import transaction

from billing.money import Money, exponent
from billing.selectors import account_balance, account_last_invoice, account_statement
from billing.services.invoices import UNITS
from ussd.context import Ctx
from ussd.registry import screen
from ussd.replies import Continue, Reply
from ussd.tasks import bill_sms_send

STATEMENT_LINES = 3


def date_text(value) -> str:
    return f"{value:%d/%m/%Y}"


def quantity_text(value: Decimal | None, utility: str) -> str:
    if value is None:
        return "-"
    return f"{value.normalize():f} {UNITS.get(utility, '')}".strip()


def signed_text(amount: Money) -> str:
    places = exponent(amount.currency)
    sign = "+" if amount.minor > 0 else "-" if amount.minor < 0 else ""
    return f"{sign}{abs(amount.amount):,.{places}f}"


@screen("balance")
def balance(ctx: Ctx, answer: str | None) -> Reply:
    if answer is not None:
        return ctx.invalid()
    account = ctx.account()
    owed = ctx.remembered("balance", lambda: account_balance(account))
    if owed.minor > 0:
        body = ctx.t("balance_owe", number=account.number, amount=owed)
    elif owed.minor < 0:
        body = ctx.t("balance_credit", number=account.number, amount=-owed)
    else:
        body = ctx.t("balance_zero", number=account.number)
    return Continue(body, next="balance")


def _bill_facts(account) -> dict | None:
    """What the bill screen shows of the account's last invoice (kept in the session)."""
    invoice = account_last_invoice(account)
    if invoice is None:
        return None
    return {
        "id": invoice.pk,
        "period": f"{invoice.period:%m/%Y}" if invoice.period else invoice.number,
        "consumption": invoice.consumption,
        "is_estimated": invoice.is_estimated,
        "total": Money(invoice.total_minor, invoice.currency),
        "due_date": invoice.due_date,
    }


@screen("bill")
def bill(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        account = ctx.account()
        invoice = ctx.remembered("bill", lambda: _bill_facts(account))
        if invoice is None:
            ctx.data.pop("invoice", None)
            return Continue(ctx.t("bill_none", number=account.number), next="bill")
        ctx.data["invoice"] = invoice["id"]
        quantity = quantity_text(invoice["consumption"], account.utility)
        if invoice["is_estimated"]:
            quantity += " " + ctx.t("bill_estimated")
        body = ctx.t(
            "bill",
            period=invoice["period"],
            number=account.number,
            quantity=quantity,
            amount=invoice["total"],
            due=date_text(invoice["due_date"]),
        )
        return Continue(body + "\n" + ctx.t("bill_sms"), next="bill")
    invoice_id = ctx.data.get("invoice")
    if answer != "1" or invoice_id is None:
        return ctx.invalid()
    key = f"ussd-bill:{invoice_id}:{ctx.session_id}"
    transaction.on_commit(
        lambda: bill_sms_send.delay(invoice_id, ctx.phone, ctx.lang, key), robust=True
    )
    return Continue(ctx.t("bill_sms_sent"), next="bill")


@screen("statement")
def statement(ctx: Ctx, answer: str | None) -> Reply:
    if answer is not None:
        return ctx.invalid()
    account = ctx.account()
    lines = ctx.remembered("statement", lambda: account_statement(account, limit=STATEMENT_LINES))
    if not lines:
        return Continue(ctx.t("statement_none", number=account.number), next="statement")
    rows = [
        f"{ctx.local(line.at):%d/%m} {ctx.t('kind_' + line.kind)} {signed_text(line.amount)}"
        for line in lines
    ]
    body = "\n".join(
        [
            ctx.t("statement_head", number=account.number),
            *rows,
            ctx.t("statement_balance", amount=lines[-1].balance),
        ]
    )
    return Continue(body, next="statement")
