"""Linking a phone to an account with the code from the invitation letter.

The account number's check digit is verified at once (a typo is caught before the code is
asked); whether the account exists is only told together with the code, so the menu cannot
be used to find out which numbers are accounts. Codes are limited per invitation (billing's
`account_invitation_redeem`) and per phone (LINK_LIMIT).

The hop that takes the code keeps to the hop budget of four statements: the redeem makes at
most four, and the account it links joins the session's accounts from what the redeem read
(no second read of the caller's accounts).
"""

from accounts.errors import ApplicationError
from accounts.ratelimit import Limit, limit_hit
from billing.account_numbers import account_number_clean
from billing.models import Operator, ServiceAccount
from billing.services.invitations import InvitationInvalid, account_invitation_redeem
from ussd.context import ACCOUNT_FIELDS, Ctx
from ussd.registry import screen
from ussd.replies import Continue, End, Reply
from ussd.selectors import ADDRESS_CHARS, OPERATOR_FIELDS

LINK_LIMIT = Limit("ussd_link", count=10, seconds=3600)


@screen("link.number", targets=("link.code",), flow="menu_link")
def link_number(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        return Continue(ctx.t("link_number"), next="link.number")
    number = account_number_clean(answer)
    if number is None:
        return ctx.invalid("account_number_invalid")
    ctx.data["number"] = number
    return ctx.go("link.code")


@screen("link.code", flow="menu_link")
def link_code(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        return Continue(ctx.t("link_code"), next="link.code")
    if limit_hit(LINK_LIMIT, ctx.phone) is not None:
        return End(ctx.error("rate_limited"))
    operator_id = ctx.state["op"]
    try:
        account = account_invitation_redeem(
            account_number=ctx.data["number"],
            code=answer,
            phone=ctx.phone,
            operator=Operator(pk=operator_id) if operator_id else None,
        )
    except InvitationInvalid as exc:
        return ctx.back(ctx.error(exc.code))
    except ApplicationError as exc:
        return End(ctx.error(exc.code))
    _account_add(ctx, account)
    return ctx.home(notice=ctx.t("link_done", number=account.number))


def _account_add(ctx: Ctx, account: ServiceAccount) -> None:
    """Add the linked `account` (read with its operator) to the session's accounts, as the
    first hop would have read it (ussd.selectors.caller_load)."""
    row = {field: getattr(account, field) for field in ACCOUNT_FIELDS}
    row.update(operator_id=account.operator_id, address=account.address[:ADDRESS_CHARS])
    rows = [kept for kept in ctx.accounts if kept["id"] != account.pk] + [row]
    ctx.state["accounts"] = sorted(rows, key=lambda kept: kept["id"])
    operator = {field: getattr(account.operator, field) for field in OPERATOR_FIELDS}
    ctx.state["ops"] = {**ctx.state["ops"], account.operator_id: operator}
