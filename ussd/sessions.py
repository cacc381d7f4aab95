"""Session state in the cache (Redis in production), keyed by the gateway's session id.

A session is a small dict, read once and written once per hop:

    phone, network, service_code   who is calling, from which network, which code they dialled
    user, lang                     the caller's user id (None: no user) and language
    op, ops, accounts              the operator dialled, and the caller's accounts with their
                                   operators, read from the database on the first hop only
    screen, stack, data            the screen awaiting an answer, the screens "0 Back" returns
                                   to, and what the current flow collected (account, amount...)
    pages, page                    the pages of a long screen ("98 More")
    seen, resets                   what the gateway adapter remembers (AT: the text seen, and
                                   whether the gateway has shown it resets the text)
    last                           the last reply, answered again when the gateway retries a hop

Beside it: the operator of each USSD code (kept OPERATOR_TTL), read together with the
session so that a first hop does not query it; and one resume record per phone, saying where
the caller was when a session stopped in the middle of a flow, and when (a record older than
RESUME_WINDOW is ignored). State and record are written in one round trip (set_many
pipelines on Redis); the record only when there is one to write or to clear.
"""

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

SESSION_TTL_SECONDS = 300  # a USSD session lasts at most 180 s
OPERATOR_TTL_SECONDS = 300
RESUME_WINDOW_SECONDS = 120
State = dict[str, Any]


def session_key(gateway: str, session_id: str) -> str:
    return f"ussd:s:{gateway}:{session_id}"


def resume_key(phone: str) -> str:
    return f"ussd:r:{phone}"


def operator_key(service_code: str) -> str:
    return f"ussd:o:{service_code}"


@dataclass(frozen=True)
class Loaded:
    state: State | None
    resume: dict | None
    # The operator of the code dialled, as remembered: {"operator": values or None}; None
    # when not remembered.
    operator: dict | None


def session_load(gateway: str, session_id: str, phone: str, service_code: str) -> Loaded:
    """The session's state, the phone's resume record and the operator of the code dialled
    (needed on a session's first hop), in one round trip."""
    skey, rkey, okey = (
        session_key(gateway, session_id),
        resume_key(phone),
        operator_key(service_code),
    )
    found = cache.get_many([skey, rkey, okey])
    return Loaded(found.get(skey), found.get(rkey), found.get(okey))


def operator_remember(service_code: str, operator: dict | None) -> None:
    """Keep the operator of a USSD code for OPERATOR_TTL (its help phone or paybill may take
    that long to show a change)."""
    cache.set(operator_key(service_code), {"operator": operator}, timeout=OPERATOR_TTL_SECONDS)


def session_save(
    gateway: str, session_id: str, state: State, resume: dict | None, write_resume: bool = True
) -> None:
    """Store the state and, with `write_resume`, the phone's resume record (None: nothing to
    resume); one round trip either way."""
    skey = session_key(gateway, session_id)
    if not write_resume:
        cache.set(skey, state, timeout=SESSION_TTL_SECONDS)
        return
    cache.set_many({skey: state, resume_key(state["phone"]): resume}, timeout=SESSION_TTL_SECONDS)


def resume_record(session_id: str, state: State, *, now: float | None = None) -> dict:
    return {
        "session": session_id,
        "at": time.time() if now is None else now,
        "screen": state["screen"],
        "stack": list(state["stack"]),
        "data": dict(state["data"]),
    }


def resume_offerable(record: dict | None, session_id: str) -> bool:
    """Whether `record` is of another session that stopped less than RESUME_WINDOW ago."""
    if not record or record.get("session") == session_id:
        return False
    return time.time() - record["at"] <= RESUME_WINDOW_SECONDS


def session_ended(gateway: str, session_id: str, phone: str, *, completed: bool) -> None:
    """The gateway says the session is over: forget the resume record of a completed
    session; restart the window of one that stopped in the middle (it stopped just now)."""
    rkey = resume_key(phone)
    record = cache.get(rkey)
    if not record or record.get("session") != session_id:
        return
    if completed:
        cache.set(rkey, None, timeout=SESSION_TTL_SECONDS)
    else:
        cache.set(rkey, {**record, "at": time.time()}, timeout=SESSION_TTL_SECONDS)
