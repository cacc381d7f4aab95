"""The USSD engine: one hop in, one reply out. The only module that knows sessions.

A hop: load the session, the phone's resume record and the operator of the code dialled (one
cache round trip); on the session's first hop, read the caller and their accounts (one query;
one more when the operator of the code is not remembered yet) and offer to resume a flow that
dropped; apply each new answer (0 Back, 00 Home and 98 More work on every screen); lay the
reply out for the gateway's screen; save (one round trip); then hand the workers what the
screens left for them (ctx.once_saved: confirmed payments and readings), so a hop whose
session could not be saved starts nothing. A gateway retry of the same hop, or a hop after
the session ended, gets the same reply again and changes nothing; which hops are retries the
adapter says (ussd.gateways.africastalking: the same text, unless the gateway has shown it
resets the text to the latest answer).

Nothing escapes: any error, Redis or the database being down included, is logged with the
session id and answered with a polite END in the caller's language; so is a hop that runs
past its deadline (ussd.deadline). The HTTP status stays 200 (the views).
"""

import logging
import time

from django.db import transaction

from accounts.phones import phone_mask
from ussd import deadline as hop_deadline
from ussd import screens  # noqa: F401 - registers the screens
from ussd.context import Ctx
from ussd.gateways.base import Gateway, Hop
from ussd.layout import pages
from ussd.registry import SCREENS, UndeclaredTarget
from ussd.replies import Continue, End, Reply, Retry
from ussd.selectors import caller_load, caller_user, operator_for_code
from ussd.sessions import (
    State,
    operator_remember,
    resume_offerable,
    resume_record,
    session_load,
    session_save,
)
from ussd.texts import ascii_fold, language_pick, text

logger = logging.getLogger(__name__)

BACK, HOME, MORE = "0", "00", "98"


class _Page(Continue):
    """A further page of the screen already laid out ("98 More")."""


class _Run:
    """One hop; keeps what it loaded so a failure can still answer in the caller's language."""

    def __init__(self, gateway: Gateway, hop: Hop) -> None:
        self.gateway, self.hop = gateway, hop
        self.state: State | None = None

    def run(self) -> Continue | End:
        gateway, hop = self.gateway, self.hop
        loaded = session_load(gateway.name, hop.session_id, hop.phone, hop.service_code)
        state = loaded.state
        if state is not None and hop.first:
            state = None  # a new dial that reuses the session id: start over
        reply: Reply | None = None
        if state is None:
            new = gateway.answers_new(hop, None)
            self.state = state = _state_new(hop, loaded.operator)
            ctx = Ctx(state, hop.session_id)
            if resume_offerable(loaded.resume, hop.session_id) and not new.answers:
                state.update(screen="resume", resume=loaded.resume)
            reply = _show(ctx, state["screen"])
        else:
            self.state = state
            new = gateway.answers_new(hop, state["seen"], resets=state.get("resets", False))
            last = state["last"]
            if last and (new.replay or last[0] == "END"):
                # A retried hop, or a hop after the session ended: the same answer again.
                kind, body = last
                return Continue(body, next=state["screen"]) if kind == "CON" else End(body)
            ctx = Ctx(state, hop.session_id)
        for answer in new.answers:
            if isinstance(reply, End):
                break
            reply = _answer(ctx, answer)
        if reply is None:
            reply = _show(ctx, state["screen"])
        state.update(seen=new.seen, resets=new.resets)
        final = self._lay_out(ctx, reply)
        self._save(ctx, final, resume_before=loaded.resume)
        for callback in ctx.when_saved:
            transaction.on_commit(callback)
        return final

    def _lay_out(self, ctx: Ctx, reply: Continue | End) -> Continue | End:
        state, limit = ctx.state, self.gateway.text_limit
        if isinstance(reply, _Page):
            return Continue(reply.text, next=reply.next)
        if isinstance(reply, End):
            body = ascii_fold(reply.text)
            if len(body) > limit:
                logger.warning("ussd text cut", extra={"screen": state["screen"]})
            state.update(pages=None, page=0)
            return End(body[:limit])
        footer = ctx.t("nav") if reply.nav else ""
        laid = pages(
            ascii_fold(reply.text),
            footer=ascii_fold(footer),
            more=ascii_fold(ctx.t("more")),
            limit=limit,
        )
        state.update(pages=laid if len(laid) > 1 else None, page=0)
        return Continue(laid[0], next=reply.next)

    def _save(self, ctx: Ctx, final: Continue | End, *, resume_before: dict | None) -> None:
        state = ctx.state
        ended = isinstance(final, End)
        state["last"] = ("END" if ended else "CON", final.text)
        resumable = not ended and SCREENS[state["screen"]].flow
        record = resume_record(self.hop.session_id, state) if resumable else None
        # The resume record is written when there is one, or one to clear; else only the state.
        write_resume = record is not None or resume_before is not None
        session_save(self.gateway.name, self.hop.session_id, state, record, write_resume)


def _state_new(hop: Hop, remembered: dict | None) -> State:
    """A new session: the operator dialled (remembered, else read: one query) and the caller
    with their accounts (one query)."""
    if remembered is None:
        operator = operator_for_code(hop.service_code)
        operator_remember(hop.service_code, operator)
    else:
        operator = remembered["operator"]
    caller = caller_load(hop.phone, operator)
    return {
        "phone": hop.phone,
        "network": hop.network_code,
        "service_code": hop.service_code,
        "user": caller.user_id,
        "lang": language_pick(caller.language, hop.phone),
        "op": operator["id"] if operator else None,
        "ops": caller.operators,
        "accounts": caller.accounts,
        "screen": "home",
        "stack": [],
        "data": {},
        "pages": None,
        "page": 0,
        "seen": "",
        "resets": False,
        "last": None,
    }


def _show(ctx: Ctx, name: str) -> Reply:
    """Screen `name` showing itself."""
    ctx.state["screen"] = name
    return _apply(ctx, SCREENS[name].handle(ctx, None))


def _apply(ctx: Ctx, reply: Reply) -> Reply:
    """Follow a Continue to its next screen (declared targets only)."""
    state = ctx.state
    if isinstance(reply, Continue) and reply.next != state["screen"]:
        if reply.next not in SCREENS[state["screen"]].targets:
            raise UndeclaredTarget(f"{state['screen']} -> {reply.next}")
        state["stack"].append(state["screen"])
        state["screen"] = reply.next
    return reply


def _answer(ctx: Ctx, answer: str) -> Reply:
    state = ctx.state
    answer = answer.strip()
    if answer == HOME:
        return ctx.home()
    if answer == BACK:
        previous = state["stack"].pop() if state["stack"] else "home"
        return _show(ctx, previous)
    laid = state.get("pages")
    if answer == MORE and laid and state["page"] + 1 < len(laid):
        state["page"] += 1
        return _Page(laid[state["page"]], next=state["screen"])
    reply = SCREENS[state["screen"]].handle(ctx, answer)
    if isinstance(reply, Retry):
        again = SCREENS[state["screen"]].handle(ctx, None)
        if isinstance(again, Continue):
            again = Continue(reply.error + "\n" + again.text, next=again.next, nav=again.nav)
        return _apply(ctx, again)
    return _apply(ctx, reply)


def _polite(run: _Run, key: str) -> str:
    """The apology in the caller's language: the session's, else their user's (if the
    database answers), else a guess from their number."""
    if run.state is not None:
        language = run.state["lang"]
    else:
        language = ""
        if key == "fault":
            try:
                language = caller_user(run.hop.phone)[1]
            except Exception:  # noqa: BLE001 - the database may be what failed
                language = ""
        language = language_pick(language, run.hop.phone)
    return ascii_fold(text(language, key))


def hop_answer(gateway: Gateway, hop: Hop) -> Continue | End:
    """The reply to one hop. Never raises."""
    run = _Run(gateway, hop)
    started = time.perf_counter()
    log = {"session_id": hop.session_id, "gateway": gateway.name, "phone": phone_mask(hop.phone)}
    try:
        with hop_deadline.deadline(hop_deadline.HOP_DEADLINE_SECONDS):
            return run.run()
    except hop_deadline.HopDeadlineExceeded:
        elapsed = round(time.perf_counter() - started, 3)
        logger.error("ussd hop past its deadline", extra={**log, "seconds": elapsed})
        return End(_polite(run, "timeout"))
    except Exception:
        logger.exception("ussd hop failed", extra=log)
        return End(_polite(run, "fault"))
