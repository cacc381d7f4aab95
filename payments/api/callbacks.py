"""Public callback URLs the operators call: thin views over services/callbacks.py.

No session, no CSRF, no authentication classes: an operator proves itself with the secret
token in the URL (and, per provider, its source address and signature). Every request is
stored raw before anything touches the database, whatever its method or content.
"""

import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.clientip import client_ip
from payments.providers.base import Acknowledgement
from payments.services.callbacks import callback_receive

logger = logging.getLogger(__name__)


def _render(ack: Acknowledgement) -> HttpResponse:
    if isinstance(ack.body, str):
        return HttpResponse(ack.body, status=ack.status, content_type=ack.content_type)
    return JsonResponse(ack.body, status=ack.status, content_type=ack.content_type)


def _unlogged(response: HttpResponse) -> HttpResponse:
    """Django logs every 4xx/5xx with the request path, which holds the secret URL token: the
    services log these requests themselves, with the token masked."""
    response._has_been_logged = True
    return response


def callback_view(provider: str, kind: str, methods: tuple[str, ...] = ("POST",)):
    """The view for one (provider, kind) callback URL, taking `token` from the path."""

    @csrf_exempt
    def view(request, token: str) -> HttpResponse:
        try:
            ack = callback_receive(
                provider=provider,
                kind=kind,
                method=request.method,
                path=request.path,
                token=token,
                headers=dict(request.headers),
                body=request.body,
                remote_addr=client_ip(request),
                methods=methods,
            )
        except Exception:  # stored raw already; log it, answer 500 so the operator retries
            logger.exception("callback processing failed", extra={"provider": provider})
            return _unlogged(JsonResponse({"code": "error"}, status=500))
        response = _render(ack)
        if ack.status == 405:
            response["Allow"] = ", ".join(methods)
        return _unlogged(response)

    view.__name__ = f"{provider}_{kind}_callback"
    return view
