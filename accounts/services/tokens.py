"""Staff sessions as JSON web tokens: log in, rotate, log out, and clear out expired records.

A login begins a `RefreshChain`; every refresh token rotated from it carries the chain's id.
A refresh token works once. Presented again, it is refused; presented again after
JWT_REUSE_GRACE_SECONDS (no longer a client's parallel retry but, most likely, a copy in other
hands) it revokes its whole chain, so neither the thief nor the owner can refresh any more.
No chain outlives JWT_REFRESH_CHAIN_MAX_DAYS: then its user logs in again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.exceptions import InvalidCredentials, InvalidPhoneNumber, InvalidToken, TokenReused
from accounts.models import RefreshChain, User
from accounts.phones import phone_mask, phone_normalize
from accounts.ratelimit import Limit, limit_enforce
from accounts.tokens import StaffRefreshToken, password_digest

logger = logging.getLogger(__name__)

LOGIN_LIMIT = Limit("login", 15, 60)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@transaction.atomic
def token_pair_obtain(*, phone: str, password: str, ip: str | None) -> TokenPair:
    """Log in with phone (any format a person types) and password: a new chain and its pair.

    A malformed phone, an unknown one, a wrong password and an inactive user all get the same
    InvalidCredentials. At most LOGIN_LIMIT attempts per client address (RateLimited).
    """
    limit_enforce(LOGIN_LIMIT, ip)
    try:
        e164 = phone_normalize(phone)
    except InvalidPhoneNumber as exc:
        logger.info("login refused: malformed phone number", extra={"ip": ip})
        raise InvalidCredentials() from exc
    # Django's backend spends the same hashing time on unknown phones and inactive users.
    user = authenticate(None, phone=e164, password=password)
    if user is None:
        logger.info("login refused", extra={"phone": phone_mask(e164), "ip": ip})
        raise InvalidCredentials()
    chain = RefreshChain.objects.create(user=user)
    pair = _pair_issue(user=user, chain=chain, now=chain.started_at)
    if api_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    logger.info("login", extra={"user_id": user.pk, "chain_id": str(chain.pk), "ip": ip})
    return pair


def token_pair_refresh(*, refresh: str) -> TokenPair:
    """Trade a refresh token for a new pair; the presented token is used up.

    Raises InvalidToken (bad, expired, revoked, user inactive or password changed) or
    TokenReused (this token was already traded).
    """
    token = _refresh_token_read(refresh)
    pair = _refresh_token_rotate(token)
    if pair is None:
        # Raised only now, outside the transaction, so a chain revocation stays committed.
        raise TokenReused()
    return pair


@transaction.atomic
def refresh_token_revoke(*, refresh: str) -> None:
    """Log out: use up the refresh token and revoke its chain. Doing it twice is harmless."""
    token = _refresh_token_read(refresh)
    row = _outstanding_lock(token)
    BlacklistedToken.objects.get_or_create(token=row)
    refresh_chain_revoke(chain_id=token.chain_id, reason="logout")
    logger.info("logout", extra={"user_id": row.user_id, "chain_id": token.chain_id})


@transaction.atomic
def refresh_chain_revoke(*, chain_id: str, reason: str) -> bool:
    """Stop every refresh token of a chain. False if it was already revoked (first reason kept)."""
    revoked = RefreshChain.objects.filter(pk=chain_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    return bool(revoked)


@transaction.atomic
def expired_tokens_delete(*, now: datetime | None = None) -> dict[str, int]:
    """Delete records no token can use any more, as simplejwt's `flushexpiredtokens` does.

    Expired outstanding tokens go (their blacklist entries with them), and so do chains past
    their maximum age, whose every token has expired.
    """
    now = now or timezone.now()
    _, outstanding = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    max_age = timedelta(days=settings.JWT_REFRESH_CHAIN_MAX_DAYS)
    chains, _ = RefreshChain.objects.filter(started_at__lte=now - max_age).delete()
    return {
        "outstanding": outstanding.get(OutstandingToken._meta.label, 0),
        "blacklisted": outstanding.get(BlacklistedToken._meta.label, 0),
        "chains": chains,
    }


def _chain_ends_at(chain: RefreshChain) -> datetime:
    return chain.started_at + timedelta(days=settings.JWT_REFRESH_CHAIN_MAX_DAYS)


def _pair_issue(*, user: User, chain: RefreshChain, now: datetime) -> TokenPair:
    expires_at = min(now + StaffRefreshToken.lifetime, _chain_ends_at(chain))
    refresh = StaffRefreshToken.for_chain(user=user, chain=chain, expires_at=expires_at)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _refresh_token_read(raw: str) -> StaffRefreshToken:
    """Signature, expiry and claims; the blacklist is checked later, under the row lock."""
    try:
        return StaffRefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken() from exc


def _outstanding_lock(token: StaffRefreshToken) -> OutstandingToken:
    try:
        return OutstandingToken.objects.select_for_update().get(jti=token.jti)
    except OutstandingToken.DoesNotExist as exc:
        raise InvalidToken() from exc


@transaction.atomic
def _refresh_token_rotate(token: StaffRefreshToken) -> TokenPair | None:
    """The new pair, or None when the token was used before (its chain revoked if need be).

    The outstanding row stays locked until commit: a concurrent refresh with the same token
    waits, then finds it blacklisted.
    """
    now = timezone.now()
    row = _outstanding_lock(token)
    chain = RefreshChain.objects.filter(pk=token.chain_id, user_id=row.user_id).first()
    if chain is None or chain.revoked_at is not None or now >= _chain_ends_at(chain):
        raise InvalidToken()
    used_at = (
        BlacklistedToken.objects.filter(token=row).values_list("blacklisted_at", flat=True).first()
    )
    if used_at is not None:
        _reuse_handle(chain=chain, used_at=used_at, now=now)
        return None
    user = User.objects.filter(pk=row.user_id).first()
    if (
        user is None
        or not user.is_active
        or token.get(api_settings.REVOKE_TOKEN_CLAIM) != password_digest(user)
    ):
        raise InvalidToken()
    BlacklistedToken.objects.create(token=row)
    logger.info("token refreshed", extra={"user_id": user.pk, "chain_id": str(chain.pk)})
    return _pair_issue(user=user, chain=chain, now=now)


def _reuse_handle(*, chain: RefreshChain, used_at: datetime, now: datetime) -> None:
    log_extra = {"user_id": chain.user_id, "chain_id": str(chain.pk)}
    if now - used_at <= timedelta(seconds=settings.JWT_REUSE_GRACE_SECONDS):
        logger.info("used refresh token presented again within grace", extra=log_extra)
        return
    refresh_chain_revoke(chain_id=str(chain.pk), reason="reuse")
    logger.warning("used refresh token presented again: chain revoked", extra=log_extra)
