"""One error shape for the whole API: {"code", "message", "extra"}."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from accounts.errors import ApplicationError


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        response = Response(
            {"code": exc.code, "message": exc.message, "extra": exc.extra},
            status=exc.http_status,
        )
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "invalid",
            "message": _first_message(exc.detail),
            "extra": {"fields": exc.detail},
        }
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        body = {"code": code, "message": _first_message(getattr(exc, "detail", "")), "extra": {}}
        if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
            body["code"] = "rate_limited"
    response.data = body
    return response
