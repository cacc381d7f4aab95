"""Gateway webhooks. Each request is stored raw first; Twilio's are then checked against
X-Twilio-Signature (403 when wrong); then the text is handled or the report applied. We answer
200 quickly whatever came of it (gateways retry anything else), and 400 only for a request
missing what identifies it. Replies to commands go through the outbox, never in the response.
"""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from accounts.exceptions import InvalidPhoneNumber
from accounts.phones import phone_normalize
from sms.commands.handlers import inbound_handle
from sms.contacts import contact_block
from sms.inbound import (
    AT_DELIVERY,
    TWILIO_DELIVERY,
    callback_outcome,
    callback_store,
    delivery_report_apply,
    inbound_store,
    storable,
)
from sms.models import InboundMessage

logger = logging.getLogger(__name__)

AT, TWILIO = "africastalking", "twilio"


def _receive(*, gateway: str, external_id: str, sender: str, to: str, text: str, network: str):
    """Store an inbound text once and carry out its command; returns the outcome."""
    try:
        phone = phone_normalize(sender)
    except InvalidPhoneNumber:
        return "invalid_phone"  # e.g. an alphanumeric sender: nobody to answer
    inbound, created = inbound_store(
        gateway=gateway,
        external_id=external_id,
        phone=phone,
        to=to,
        text=text,
        network_code=network,
    )
    if not created:
        return "duplicate"
    try:
        inbound_handle(inbound=inbound)
    except Exception:
        logger.exception("sms command failed", extra={"inbound_id": inbound.pk})
        InboundMessage.objects.filter(pk=inbound.pk).update(error="handling failed")
        return "error"
    return "handled"


def _twilio_signed(request) -> bool:
    conf = settings.SMS_GATEWAYS.get(TWILIO)
    if conf is None:
        return False
    url = settings.SMS_PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    validator = RequestValidator(conf["options"]["auth_token"])
    return validator.validate(url, request.POST, request.headers.get("X-Twilio-Signature", ""))


def _ack(callback, outcome: str, *, twiml: bool = False) -> HttpResponse:
    callback_outcome(callback, outcome)
    if outcome == "invalid":
        return HttpResponseBadRequest("missing message id")
    if twiml:
        return HttpResponse(str(MessagingResponse()), content_type="text/xml")
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
@require_POST
def at_inbound(request):
    callback = callback_store(request, gateway=AT, endpoint="inbound")
    data = request.POST
    if not data.get("id"):
        return _ack(callback, "invalid")
    outcome = _receive(
        gateway=AT,
        external_id=data["id"],
        sender=data.get("from", ""),
        to=data.get("to", ""),
        text=data.get("text", ""),
        network=data.get("networkCode", ""),
    )
    return _ack(callback, outcome)


@csrf_exempt
@require_POST
def at_delivery(request):
    callback = callback_store(request, gateway=AT, endpoint="delivery")
    data = request.POST
    if not data.get("id"):
        return _ack(callback, "invalid")
    outcome = delivery_report_apply(
        gateway=AT,
        gateway_message_id=data["id"],
        status=AT_DELIVERY.get(data.get("status", "")),
        reason=data.get("failureReason", ""),
    )
    return _ack(callback, outcome)


@csrf_exempt
@require_POST
def at_optout(request):
    """A recipient opted out of our sender id: Africa's Talking will refuse them (406)."""
    callback = callback_store(request, gateway=AT, endpoint="optout")
    try:
        phone = phone_normalize(request.POST.get("phoneNumber", ""))
    except InvalidPhoneNumber:
        return _ack(callback, "invalid_phone")
    sender = storable(request.POST.get("senderId", ""))[:30]
    contact_block(phone=phone, gateway=AT, reason=f"opted out of sender {sender}")
    return _ack(callback, "handled")


@csrf_exempt
@require_POST
def twilio_inbound(request):
    callback = callback_store(request, gateway=TWILIO, endpoint="inbound")
    if not _twilio_signed(request):
        callback_outcome(callback, "bad_signature")
        return HttpResponseForbidden("bad signature")
    data = request.POST
    if not data.get("MessageSid"):
        return _ack(callback, "invalid")
    outcome = _receive(
        gateway=TWILIO,
        external_id=data["MessageSid"],
        sender=data.get("From", ""),
        to=data.get("To", ""),
        text=data.get("Body", ""),
        network="",
    )
    return _ack(callback, outcome, twiml=True)


@csrf_exempt
@require_POST
def twilio_status(request):
    callback = callback_store(request, gateway=TWILIO, endpoint="status")
    if not _twilio_signed(request):
        callback_outcome(callback, "bad_signature")
        return HttpResponseForbidden("bad signature")
    data = request.POST
    if not data.get("MessageSid"):
        return _ack(callback, "invalid")
    outcome = delivery_report_apply(
        gateway=TWILIO,
        gateway_message_id=data["MessageSid"],
        status=TWILIO_DELIVERY.get(data.get("MessageStatus", "")),
        reason=data.get("ErrorCode", ""),
    )
    return _ack(callback, outcome)
