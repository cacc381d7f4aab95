"""Errors of identities, activation codes and staff authentication. Codes are part of the API."""

from accounts.errors import ApplicationError


class InvalidPhoneNumber(ApplicationError):
    code = "invalid_phone"
    message = "This is not a valid phone number."


class InvalidCode(ApplicationError):
    code = "invalid_code"
    message = "The code is not valid for this phone number."


class CodeExpired(ApplicationError):
    code = "code_expired"
    message = "The code has expired; ask for a new one."


class TooManyAttempts(ApplicationError):
    code = "too_many_attempts"
    message = "Too many wrong codes; ask for a new one."


class ResendCooldown(ApplicationError):
    code = "resend_cooldown"
    message = "A code was sent moments ago; wait before asking again."
    http_status = 429


class SendQuota(ApplicationError):
    code = "send_quota"
    message = "Too many codes were sent to this phone; try again later."
    http_status = 429


class Locked(ApplicationError):
    code = "locked"
    message = "Too many failed attempts; this phone is locked for a while."
    http_status = 429


class RateLimited(ApplicationError):
    code = "rate_limited"
    message = "Too many requests; slow down."
    http_status = 429


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    message = "Phone number or password is wrong."
    http_status = 401


class InvalidToken(ApplicationError):
    code = "invalid_token"
    message = "The token is invalid, expired or revoked."
    http_status = 401


class TokenReused(ApplicationError):
    code = "token_reused"
    message = "This refresh token was already used."
    http_status = 401


class RoleNotAllowed(ApplicationError):
    code = "role_not_allowed"
    message = "Your role does not allow managing this user or granting this role."
    http_status = 403


class OwnAccountChange(ApplicationError):
    code = "own_account"
    message = "You cannot change your own role or deactivate your own account."
    http_status = 403


class PhoneTaken(ApplicationError):
    code = "phone_taken"
    message = "A user with this phone number already exists."


class InvalidPassword(ApplicationError):
    code = "invalid_password"
    message = "This password is not allowed."


class PasswordRejected(ApplicationError):
    """Rendered like a serializer error, so the API shows it under the `password` field."""

    code = "invalid"
    message = "The password is not acceptable."
