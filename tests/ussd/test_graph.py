"""The menu graph and its texts: every target exists, every screen is reachable, every screen
in every language fits the gateways' screens (with its longest error above it), texts agree
across languages."""

import string
from collections import deque
from decimal import Decimal

import pytest

from tests.ussd.support import OTIENO, STRANGER, WANJIRU
from ussd.context import Ctx
from ussd.engine import _state_new
from ussd.gateways import GATEWAYS
from ussd.gateways.base import Hop
from ussd.layout import pages
from ussd.registry import ROOTS, SCREENS
from ussd.replies import Continue, End
from ussd.texts import ERRORS, LANGUAGES, TEXTS, ascii_fold

AT_TEXT_LIMIT = GATEWAYS["africastalking"].text_limit  # 182 minus "CON "
NALO_LIMIT = GATEWAYS["nalo"].text_limit

# Longest values a screen may show: 9-digit account, 7-digit amounts, 16-character serial.
WORST = {
    "number": "100000011",
    "amount": "KES 1,234,567.89",
    "min": "KES 1,234,567.89",
    "max": "KES 1,234,567.89",
    "currency": "KES",
    "phone": "+254712345678",
    "paybill": "1234567",
    "ussd": "*384*12345#",
    "index": "1234567.125",
    "previous": "1234567.125",
    "serial": "WM-ABCDEFGH-1234",
    "date": "28/01/2026",
    "quantity": "12345.125 kWh",
    "period": "11/2026",
    "due": "15/12/2026",
    "operator": "Malipo Utilities of the Great Lakes",
    "flow": "Relevé du compteur",
}


def test_every_target_of_every_screen_exists():
    for screen in SCREENS.values():
        assert screen.targets <= SCREENS.keys(), screen.name


def test_every_screen_is_reachable_from_a_root():
    seen, queue = set(ROOTS), deque(ROOTS)
    while queue:
        for target in SCREENS[queue.popleft()].targets:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert seen == SCREENS.keys()


def test_every_flow_names_a_menu_text():
    for screen in SCREENS.values():
        if screen.flow:
            assert screen.flow in TEXTS["en"], screen.name


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_exists_in_every_language_with_the_same_placeholders():
    for table in (TEXTS, ERRORS):
        keys = table["en"].keys()
        for language in LANGUAGES:
            assert table[language].keys() == keys, language
            for key in keys:
                assert _placeholders(table[language][key]) == _placeholders(table["en"][key])


# Texts shown in an END: not cut into pages, so they must fit the smallest screen (Nalo's).
END_TEXTS = (
    "pay_sent",
    "pay_unavailable",
    "reading_done",
    "reading_done_plain",
    "fault",
    "timeout",
)


def test_every_fixed_text_fits_a_screen_in_every_language_on_every_gateway():
    for language in LANGUAGES:
        for key, template in {**TEXTS[language], **ERRORS[language]}.items():
            values = {name: WORST[name] for name in _placeholders(template)}
            shown = ascii_fold(template.format(**values))
            assert len(shown) <= AT_TEXT_LIMIT, (language, key, len(shown))
            if key in END_TEXTS or key in ERRORS[language]:
                assert len(shown) <= NALO_LIMIT, (language, key, len(shown))


def _session(phone: str, language: str) -> Ctx:
    hop = Hop(session_id="S", phone=phone, service_code="*384*12#", network_code="", payload="")
    state = _state_new(hop, None)
    state["lang"] = language
    return Ctx(state, "S")


def _prepare(ctx: Ctx, name: str) -> None:
    """Put in the flow what a customer would have collected before reaching `name`."""
    ctx.data.clear()
    if ctx.accounts:
        ctx.data.update(account=ctx.accounts[0]["id"], then="balance")
    ctx.data.update(provider="sandbox", amount=123_456_789, owed=0, index=WORST["index"])
    account = ctx.data.get("account")
    ctx.data["meter"] = 0
    ctx.state["memo"] = {
        f"meters:{account}": [
            {"id": 0, "serial": WORST["serial"], "max_index": Decimal(99999), "initial": 0}
        ],
        f"last-reading:0:{account}": (WORST["index"], WORST["date"]),
    }
    if name == "resume":
        ctx.state["resume"] = {"screen": "reading.confirm", "stack": [], "data": {}}


# The errors each screen may show above itself when asked again (others: invalid_choice).
RETRY_ERRORS = {
    "pay": ("invalid_choice", "amount_range", "amount_whole"),
    "pay.amount": ("amount_invalid", "amount_range", "amount_whole"),
    "reading": ("invalid_choice", "reading_invalid", "reading_below"),
    "link.number": ("account_number_invalid", "invitation_invalid"),
}


def _longest_error(name: str, language: str) -> str:
    errors = []
    for key in RETRY_ERRORS.get(name, ("invalid_choice",)):
        template = TEXTS[language].get(key) or ERRORS[language][key]
        errors.append(template.format(**{p: WORST[p] for p in _placeholders(template)}))
    return max(errors, key=len)


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("phone", [WANJIRU, OTIENO, STRANGER])
def test_every_screen_in_every_language_fits_one_page_even_under_an_error(
    demo, sandbox, phone, language
):
    ctx = _session(phone, language)
    for name, screen in SCREENS.items():
        if not ctx.accounts and name not in (
            "home",
            "language",
            "help",
            "link.number",
            "link.code",
        ):
            continue
        _prepare(ctx, name)
        ctx.state["screen"] = name
        reply = screen.handle(ctx, None)
        body = ascii_fold(reply.text)
        if isinstance(reply, End):
            assert len(body) <= AT_TEXT_LIMIT, (name, body)
            continue
        assert isinstance(reply, Continue)
        nav = ascii_fold(ctx.t("nav")) if reply.nav else ""
        worst = ascii_fold(_longest_error(name, language)) + "\n" + body
        for shown in (body, worst):
            laid = pages(shown, footer=nav, more=ascii_fold(ctx.t("more")), limit=AT_TEXT_LIMIT)
            assert len(laid) == 1, (name, language, laid)
            assert len(laid[0]) <= AT_TEXT_LIMIT
        nalo = pages(body, footer=nav, more=ascii_fold(ctx.t("more")), limit=NALO_LIMIT)
        assert all(len(page) <= NALO_LIMIT for page in nalo)
        assert all(page.isascii() for page in nalo)
