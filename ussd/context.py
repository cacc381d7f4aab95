"""What a screen sees of the session: the caller, their accounts, texts in their language."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from billing.models import Operator, ServiceAccount
from billing.money import Money
from ussd.registry import SCREENS, UndeclaredTarget
from ussd.replies import Continue, Reply, Retry
from ussd.selectors import caller_load
from ussd.sessions import State
from ussd.texts import error_text, text

MAX_STACK = 20
ACCOUNT_FIELDS = ("id", "number", "utility", "status", "tariff_id")


def _from_db(instance):
    """Mark a model instance rebuilt from values read earlier as a row of the database."""
    instance._state.adding = False
    instance._state.db = "default"
    return instance


def _noticed(reply: Reply, notice: str) -> Reply:
    if notice and isinstance(reply, Continue):
        return Continue(notice + "\n" + reply.text, next=reply.next, nav=reply.nav)
    return reply


class Ctx:
    def __init__(self, state: State, session_id: str) -> None:
        self.state = state
        self.session_id = session_id
        self.when_saved: list[Callable[[], Any]] = []

    def once_saved(self, callback: Callable[[], Any]) -> None:
        """Call `callback` (enqueue a task) after the hop's session is saved and the database
        transaction, if any, commits: a worker never starts what a lost hop promised."""
        self.when_saved.append(callback)

    # --- the caller ---------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.state["lang"]

    @property
    def phone(self) -> str:
        return self.state["phone"]

    @property
    def network(self) -> str:
        return self.state["network"]

    @property
    def user_id(self) -> int | None:
        return self.state["user"]

    @property
    def data(self) -> dict:
        """What the current flow collected (the account, an amount, a meter...)."""
        return self.state["data"]

    @property
    def accounts(self) -> list[dict]:
        return self.state["accounts"]

    def t(self, key: str, **values) -> str:
        return text(self.lang, key, **values)

    def error(self, code: str) -> str:
        return error_text(self.lang, code)

    # --- accounts and operators ---------------------------------------------------------
    def account_row(self) -> dict | None:
        """The account the current flow is about (values kept in the session)."""
        wanted = self.data.get("account")
        return next((row for row in self.accounts if row["id"] == wanted), None)

    def account(self) -> ServiceAccount:
        """The flow's account as a model instance rebuilt from the session (no query), for
        other apps' services to read. It holds only some fields: never save it."""
        row = self.account_row()
        if row is None:
            raise LookupError("no account chosen in this flow")
        operator = _from_db(Operator(**self.state["ops"][row["operator_id"]]))
        fields = {name: row[name] for name in ACCOUNT_FIELDS}
        return _from_db(ServiceAccount(operator=operator, **fields))

    def operator(self) -> dict | None:
        """The operator dialled, else the flow's account's, else the caller's only one."""
        ops = self.state["ops"]
        row = self.account_row()
        if self.state["op"] is not None:
            return ops[self.state["op"]]
        if row is not None:
            return ops[row["operator_id"]]
        return next(iter(ops.values())) if len(ops) == 1 else None

    def money(self, minor: int) -> Money:
        row = self.account_row()
        currency = self.state["ops"][row["operator_id"]]["currency"]
        return Money(minor, currency)

    def local(self, moment: datetime) -> datetime:
        """`moment` in the time zone of the flow's account's operator."""
        row = self.account_row()
        zone = ZoneInfo(self.state["ops"][row["operator_id"]]["timezone"])
        return timezone.localtime(moment, zone)

    def remembered(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per session and account: going back to a screen, or to another
        showing the same figure, reads the session, not the database. (A session lasts three
        minutes; what a payment changes is seen from the next session on.)"""
        memo = self.state.setdefault("memo", {})
        full_key = f"{key}:{self.data.get('account')}"
        if full_key not in memo:
            memo[full_key] = compute()
        return memo[full_key]

    def accounts_reload(self) -> None:
        operator = self.state["ops"].get(self.state["op"])
        caller = caller_load(self.phone, operator)
        self.state["accounts"] = caller.accounts
        self.state["ops"] = {**self.state["ops"], **caller.operators}

    # --- moving -------------------------------------------------------------------------
    @property
    def screen(self) -> str:
        return self.state["screen"]

    def go(self, target: str) -> Reply:
        """Leave the current screen for `target` (0 Back returns here) and show it."""
        current = self.state["screen"]
        if target not in SCREENS[current].targets:
            raise UndeclaredTarget(f"{current} -> {target}")
        stack = self.state["stack"]
        stack.append(current)
        del stack[:-MAX_STACK]
        self.state["screen"] = target
        return SCREENS[target].handle(self, None)

    def home(self, notice: str = "") -> Reply:
        """Back to the main menu (as "00" does), with `notice` above it."""
        self.state.update(screen="home", stack=[], data={})
        return _noticed(SCREENS["home"].handle(self, None), notice)

    def back(self, notice: str = "") -> Reply:
        """Back to the previous screen (as "0" does), with `notice` above it."""
        previous = self.state["stack"].pop() if self.state["stack"] else "home"
        self.state["screen"] = previous
        return _noticed(SCREENS[previous].handle(self, None), notice)

    def invalid(self, key: str = "invalid_choice", **values) -> Retry:
        return Retry(self.t(key, **values))
