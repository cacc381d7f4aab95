"""Africa's Talking USSD: a form POST per hop, the reply in text/plain "CON ..." / "END ...".

`text` is cumulative: every answer of the session joined by "*" ("", "1", "1*2"). The
adapter does not parse it from the start: it remembers the text it already saw and takes
what follows it. When the text does not continue what was seen, the gateway truncated it (it
kept the tail of a long text: "2*500" after "3*2") or reset it (it sent only the latest
answer: "1" after "3"); either way the last segment is this hop's answer. On the first
request, a text is the choices pre-filled in an extended dial string (*384*12*1#): each is
an answer.

The same text twice is a retry of the same hop (answered again, applied once), except on a
session whose gateway has shown that it resets the text: its last text not continuing the one
before was a single answer (no "*"). There the same single answer again is a new answer ("1"
to choose an account, then "1" to pay it all). The session's flag follows the gateway's
latest evidence: a text that continues the one seen, or a truncated one (with "*"), clears it.
What cannot be told apart: the same answer twice before the session has shown a reset (its
first two answers) stays a retry; a resend by a gateway that has shown it resets is taken as
the answer typed again (a payment is still requested at most once per session, its key, and
money moves only when the customer enters their PIN at the operator's prompt).
"""

from django.http import HttpRequest, HttpResponse

from ussd.gateways.base import (
    MAX_SESSION_ID,
    Hop,
    NewAnswers,
    field_required,
    phone_read,
)
from ussd.replies import Continue, End

MAX_TEXT = 1000
SEPARATOR = "*"


class AfricasTalkingGateway:
    name = "africastalking"
    max_chars = 182
    text_limit = max_chars - len("CON ")

    def hop_read(self, request: HttpRequest) -> Hop:
        data = request.POST
        return Hop(
            session_id=field_required(data, "sessionId", max_length=MAX_SESSION_ID),
            phone=phone_read(field_required(data, "phoneNumber", max_length=32)),
            service_code=field_required(data, "serviceCode", max_length=64),
            network_code=data.get("networkCode", "")[:16],
            payload=field_required(data, "text", allow_blank=True, max_length=MAX_TEXT),
        )

    def answers_new(self, hop: Hop, seen: str | None, resets: bool = False) -> NewAnswers:
        text = hop.payload
        if seen is None:
            return NewAnswers(text.split(SEPARATOR) if text else [], seen=text)
        single = bool(text) and SEPARATOR not in text
        if text == seen and not (resets and single):
            return NewAnswers([], seen=text, replay=True, resets=resets)
        if text == seen or not seen:
            # The same single answer on a resetting gateway; or the first answers after the
            # dial, which say nothing of the gateway's kind.
            added = text
        elif text.startswith(seen + SEPARATOR):
            added, resets = text[len(seen) + 1 :], False
        else:
            added, resets = text.rpartition(SEPARATOR)[2], single
        return NewAnswers(added.split(SEPARATOR), seen=text, resets=resets)

    def reply_write(self, hop: Hop, reply: Continue | End) -> HttpResponse:
        prefix = "CON " if isinstance(reply, Continue) else "END "
        return HttpResponse(prefix + reply.text, content_type="text/plain; charset=utf-8")


def session_event_read(request: HttpRequest) -> tuple[str, str, str]:
    """(session id, phone, status) of an end-of-session notification."""
    data = request.POST
    return (
        field_required(data, "sessionId", max_length=MAX_SESSION_ID),
        phone_read(field_required(data, "phoneNumber", max_length=32)),
        field_required(data, "status", max_length=32),
    )
