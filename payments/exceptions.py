"""Errors of mobile-money payments, each with a stable `code` (part of the API, USSD and SMS)."""

from accounts.errors import ApplicationError


class PushTooSoon(ApplicationError):
    code = "push_too_soon"
    message = "A payment request was just sent to this phone; wait a minute before another."
    http_status = 429


class AmountOutOfRange(ApplicationError):
    code = "amount_out_of_range"
    message = "The operator does not accept this amount."


class NoProviderForPhone(ApplicationError):
    code = "no_provider_for_phone"
    message = "No mobile-money operator we work with serves this phone number."


class ProviderUnavailable(ApplicationError):
    code = "provider_unavailable"
    message = "This mobile-money operator is not available here."
    http_status = 503


class AccountClosed(ApplicationError):
    code = "account_closed"
    message = "This account is closed and cannot receive payments."


class AccountNotFound(ApplicationError):
    code = "account_not_found"
    message = "No account has this number (check the digits)."


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"
    message = "Send an Idempotency-Key header (1 to 200 characters) with this request."


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different payment."
    http_status = 409


class PaymentNotReversible(ApplicationError):
    code = "payment_not_reversible"
    message = "This payment cannot be reversed."
    http_status = 409


class SuspenseResolved(ApplicationError):
    code = "suspense_resolved"
    message = "This suspense payment was already allocated or marked for refund."
    http_status = 409


class SuspenseNotFound(ApplicationError):
    code = "not_found"
    message = "No such suspense payment."
    http_status = 404
