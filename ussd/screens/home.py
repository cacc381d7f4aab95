"""The main menu (declared once, below), choosing an account, resuming, language, help."""

from ussd.context import Ctx
from ussd.registry import SCREENS, screen
from ussd.replies import Continue, Reply
from ussd.services import phone_language_set, user_language_set
from ussd.texts import LANGUAGE_NAMES, LANGUAGES

# (key, screen, text) of the main menu; a phone with no account sees UNLINKED_MENU instead.
MENU = (
    ("1", "balance", "menu_balance"),
    ("2", "bill", "menu_bill"),
    ("3", "pay", "menu_pay"),
    ("4", "reading", "menu_reading"),
    ("5", "statement", "menu_statement"),
    ("6", "language", "menu_language"),
    ("7", "help", "menu_help"),
)
UNLINKED_MENU = (
    ("1", "link.number", "menu_link"),
    ("6", "language", "menu_language"),
    ("7", "help", "menu_help"),
)
# Menu entries about one account: a phone with several accounts chooses one first.
ABOUT_AN_ACCOUNT = ("balance", "bill", "pay", "reading", "statement")
MENU_TARGETS = ("accounts", *(entry[1] for entry in MENU + UNLINKED_MENU))


def _menu(ctx: Ctx):
    return MENU if ctx.accounts else UNLINKED_MENU


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


@screen("home", targets=MENU_TARGETS)
def home(ctx: Ctx, answer: str | None) -> Reply:
    if answer is None:
        operator = ctx.operator()
        name = operator["name"][:40] if operator else ""
        head = (
            ctx.t("home", operator=name) if ctx.accounts else ctx.t("home_unlinked", operator=name)
        )
        options = [f"{key} {ctx.t(label)}" for key, _, label in _menu(ctx)]
        return Continue(_lines(head, *options), next="home", nav=False)
    target = next((name for key, name, _ in _menu(ctx) if key == answer), None)
    if target is None:
        return ctx.invalid()
    ctx.state["data"] = {}
    if target not in ABOUT_AN_ACCOUNT:
        return ctx.go(target)
    if len(ctx.accounts) == 1:
        ctx.data["account"] = ctx.accounts[0]["id"]
        return ctx.go(target)
    ctx.data["then"] = target
    return ctx.go("accounts")


@screen("accounts", targets=ABOUT_AN_ACCOUNT)
def accounts(ctx: Ctx, answer: str | None) -> Reply:
    rows = ctx.accounts
    if answer is None:
        options = [
            f"{n} {row['number']} {ctx.t('util_' + row['utility'])} {row['address']}".rstrip()
            for n, row in enumerate(rows, start=1)
        ]
        return Continue(_lines(ctx.t("choose_account"), *options), next="accounts")
    if not answer.isdigit() or not 1 <= int(answer) <= len(rows):
        return ctx.invalid()
    ctx.data["account"] = rows[int(answer) - 1]["id"]
    return ctx.go(ctx.data["then"])


@screen("resume", targets=("home",))
def resume(ctx: Ctx, answer: str | None) -> Reply:
    """Offered on the first hop when the phone's previous session stopped in a flow."""
    record = ctx.state["resume"]
    if answer is None:
        flow = ctx.t(SCREENS[record["screen"]].flow)
        return Continue(ctx.t("resume", flow=flow), next="resume", nav=False)
    if answer not in ("1", "2"):
        return ctx.invalid()
    ctx.state.pop("resume")
    known = {row["id"] for row in ctx.accounts}
    account = record["data"].get("account")
    if answer == "2" or (account is not None and account not in known):
        return ctx.home()
    ctx.state.update(screen=record["screen"], stack=record["stack"], data=record["data"])
    return SCREENS[record["screen"]].handle(ctx, None)


@screen("language", targets=("home",))
def language(ctx: Ctx, answer: str | None) -> Reply:
    """The choice is kept for the next sessions: on the phone's user, else on the phone itself
    (an account contact, a phone not linked yet)."""
    if answer is None:
        options = [f"{n} {LANGUAGE_NAMES[code]}" for n, code in enumerate(LANGUAGES, start=1)]
        return Continue(_lines(ctx.t("language_menu"), *options), next="language")
    if not answer.isdigit() or not 1 <= int(answer) <= len(LANGUAGES):
        return ctx.invalid()
    chosen = LANGUAGES[int(answer) - 1]
    if ctx.user_id is not None:
        user_language_set(user_id=ctx.user_id, language=chosen)
    else:
        phone_language_set(phone=ctx.phone, language=chosen)
    ctx.state["lang"] = chosen
    return ctx.home(notice=ctx.t("language_saved"))


@screen("help")
def help_(ctx: Ctx, answer: str | None) -> Reply:
    if answer is not None:
        return ctx.invalid()
    operator = ctx.operator() or {}
    parts = [
        ctx.t("help_call", phone=operator["help_phone"]) if operator.get("help_phone") else "",
        ctx.t("help_paybill", paybill=operator["paybill"]) if operator.get("paybill") else "",
        ctx.t("help_dial", ussd=operator["ussd_code"]) if operator.get("ussd_code") else "",
    ]
    return Continue(_lines(*parts) or ctx.t("help_generic"), next="help")
