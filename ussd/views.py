"""The public USSD callback URLs: thin views over the engine.

A request that is not a hop (a required field missing or malformed) gets a 400. Every hop
gets a 200 with a reply in the gateway's format, whatever happens behind it (the engine never
raises): gateways show nothing useful to the customer on a 5xx.
"""

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ussd.engine import hop_answer
from ussd.gateways import gateway_get
from ussd.gateways.africastalking import session_event_read
from ussd.gateways.base import HopInvalid
from ussd.sessions import session_ended

logger = logging.getLogger(__name__)

# Africa's Talking end-of-session statuses: Success (an END was shown), Incomplete (the
# session stopped while a menu waited for input), Failed (our server errored).
AT_COMPLETED = "Success"


def hop_view(gateway_name: str):
    gateway = gateway_get(gateway_name)

    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        try:
            hop = gateway.hop_read(request)
        except HopInvalid as exc:
            logger.info("ussd request refused", extra={"gateway": gateway.name, "why": str(exc)})
            return HttpResponseBadRequest(str(exc), content_type="text/plain")
        return gateway.reply_write(hop, hop_answer(gateway, hop))

    view.__name__ = f"{gateway_name}_hop"
    return view


@csrf_exempt
@require_POST
def africastalking_session_event(request: HttpRequest) -> HttpResponse:
    """Africa's Talking's end-of-session notification: a session that stopped in the middle
    of a flow may be resumed for RESUME_WINDOW from now; a completed one may not."""
    try:
        session_id, phone, status = session_event_read(request)
    except HopInvalid as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    try:
        session_ended("africastalking", session_id, phone, completed=status.strip() == AT_COMPLETED)
    except Exception:
        logger.exception("ussd session event failed", extra={"session_id": session_id})
    return HttpResponse("OK", content_type="text/plain")
