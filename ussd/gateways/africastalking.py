"""Africa's Talking USSD: a form POST per hop, the reply in text/plain "CON ..." / "END ...".

`text` is cumulative: every answer of the session joined by "*" ("", "1", "1*2"). The
adapter does not parse it from the start: it remembers the text it already saw and takes
what follows it. When the text does not continue what was seen (a gateway that truncates or
restarts it), the last segment is this hop's answer. The same text twice is a retry of the
same hop. On the first request, a text is the choices pre-filled in an extended dial string
(*384*12*1#): each is an answer.
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

    def answers_new(self, hop: Hop, seen: str | None) -> NewAnswers:
        text = hop.payload
        if seen is None:
            return NewAnswers(text.split(SEPARATOR) if text else [], seen=text)
        if text == seen:
            return NewAnswers([], seen=text, replay=True)
        if not seen:
            added = text
        elif text.startswith(seen + SEPARATOR):
            added = text[len(seen) + 1 :]
        else:
            added = text.rpartition(SEPARATOR)[2]
        return NewAnswers(added.split(SEPARATOR), seen=text)

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
