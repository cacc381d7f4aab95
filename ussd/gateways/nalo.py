"""Nalo Solutions USSD (Ghana): JSON per hop, one answer per request.

Request: {"USERID", "MSISDN": "233...", "USERDATA", "MSGTYPE": true on the first dial,
"NETWORK", "SESSIONID"}. On the first dial USERDATA is the code dialled. NETWORK names the
caller's network ("MTN"); it is the hop's network code as sent, so payments route on it like
on Africa's Talking's networkCode (PAYMENT_ROUTES="MTN:mtn"). Reply: {"USERID", "MSISDN",
"MSG", "MSGTYPE": true to continue, false to end}; MSG holds at most 120 characters.
"""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from ussd.gateways.base import (
    MAX_SESSION_ID,
    Hop,
    HopInvalid,
    NewAnswers,
    field_required,
    phone_read,
)
from ussd.replies import Continue, End

MAX_INPUT = 200
MAX_NETWORK = 16


class NaloGateway:
    name = "nalo"
    max_chars = 120
    text_limit = max_chars

    def hop_read(self, request: HttpRequest) -> Hop:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise HopInvalid("body is not JSON") from None
        if not isinstance(data, dict):
            raise HopInvalid("body is not a JSON object")
        first = data.get("MSGTYPE")
        if not isinstance(first, bool):
            raise HopInvalid("MSGTYPE must be true or false")
        userdata = field_required(data, "USERDATA", allow_blank=True, max_length=MAX_INPUT)
        return Hop(
            session_id=field_required(data, "SESSIONID", max_length=MAX_SESSION_ID),
            phone=phone_read(field_required(data, "MSISDN", max_length=32)),
            service_code=userdata.strip() if first else "",
            network_code=str(data.get("NETWORK") or "").strip()[:MAX_NETWORK],
            payload=userdata,
            first=first,
            echo={"USERID": str(data.get("USERID", ""))[:64]},
        )

    def answers_new(self, hop: Hop, seen: str | None, resets: bool = False) -> NewAnswers:
        if hop.first:
            return NewAnswers([], seen="")
        return NewAnswers([hop.payload], seen="")

    def reply_write(self, hop: Hop, reply: Continue | End) -> HttpResponse:
        return JsonResponse(
            {
                "USERID": hop.echo.get("USERID", ""),
                "MSISDN": hop.phone.lstrip("+"),
                "MSG": reply.text,
                "MSGTYPE": isinstance(reply, Continue),
            }
        )
