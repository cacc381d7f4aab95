"""Linking a phone to an account with the code from the invitation letter.

The account number's check digit is verified at once (a typo is caught before the code is
asked); whether the account exists is only told together with the code, so the menu cannot
be used to find out which numbers are accounts. Codes are limited per invitation (billing's
`account_invitation_redeem`) and per phone (LINK_LIMIT).
"""

from accounts.errors import ApplicationError
from accounts.ratelimit import Limit, limit_hit
from billing.account_numbers import account_number_clean
from billing.models import Operator
from billing.services.invitations import InvitationInvalid, account_invitation_redeem
from ussd.context import Ctx
from ussd.registry import screen
from ussd.replies import Continue, End, Reply

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
    ctx.accounts_reload()
    return ctx.home(notice=ctx.t("link_done", number=account.number))
