"""What a USSD gateway adapter does, and the plain values it exchanges with the engine.

An adapter reads the gateway's request into a `Hop`, says which answers are new in it
(`answers_new`: a cumulative gateway sends the whole session's input every time, a per-hop
gateway only the last answer) and writes the engine's reply back in the gateway's format.
What `answers_new` returns to remember (`seen`, `resets`) the engine keeps in the session and
passes back on the next hop.
The engine never sees CON/END or JSON; adapters never see sessions or screens.
"""

import re
from dataclasses import dataclass, field
from typing import Protocol

from django.http import HttpRequest, HttpResponse

from accounts.exceptions import InvalidPhoneNumber
from accounts.phones import phone_normalize
from ussd.replies import Continue, End

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_SESSION_ID = 100


class HopInvalid(Exception):
    """The request is not a hop of this gateway (a required field is missing or malformed)."""


@dataclass(frozen=True)
class Hop:
    session_id: str
    phone: str  # E.164
    service_code: str
    network_code: str
    # What the gateway sent as input: cumulative ("1*2*500") or this hop's answer only.
    payload: str
    # The gateway says this is the session's first request (None: it does not say).
    first: bool | None = None
    # Gateway fields the reply must echo (Nalo's USERID).
    echo: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewAnswers:
    answers: list[str]
    # What to remember for the next hop (the cumulative text seen so far).
    seen: str
    # The gateway sent this hop again (a retry): answer what was answered, change nothing.
    replay: bool = False
    # What to remember for the next hop: the gateway has shown, on this session, that it
    # resets a cumulative text to the latest answer (the same text again is then an answer).
    resets: bool = False


class Gateway(Protocol):
    name: str
    # Characters the handset shows, including any prefix the adapter adds.
    max_chars: int
    # Characters left for the engine's text.
    text_limit: int

    def hop_read(self, request: HttpRequest) -> Hop: ...

    def answers_new(self, hop: Hop, seen: str | None, resets: bool = False) -> NewAnswers:
        """The answers new in `hop`, given what the previous hop left to remember (`seen`
        None: the session's first hop)."""
        ...

    def reply_write(self, hop: Hop, reply: Continue | End) -> HttpResponse: ...


def field_required(data, name: str, *, allow_blank: bool = False, max_length: int = 200) -> str:
    value = data.get(name)
    if value is None or (not allow_blank and not str(value).strip()):
        raise HopInvalid(f"missing field {name}")
    value = str(value)
    if len(value) > max_length:
        raise HopInvalid(f"field {name} is too long")
    return value


def phone_read(raw: str) -> str:
    """E.164 from what a gateway sends ("+254712...", or digits without the plus)."""
    raw = raw.strip()
    if E164.match(raw):
        return raw
    candidate = raw if raw.startswith("+") else "+" + raw
    try:
        return phone_normalize(candidate)
    except InvalidPhoneNumber:
        raise HopInvalid("phone number is not valid") from None
