"""Staff authentication with JSON web tokens (djangorestframework-simplejwt)."""

from datetime import timedelta

from config.settings.env import env

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry a digest of the password hash: changing the password revokes them at once.
    "CHECK_REVOKE_TOKEN": True,
    "CHECK_USER_IS_ACTIVE": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
# A chain of rotated refresh tokens lives at most this long after the login that began it.
JWT_REFRESH_CHAIN_MAX_DAYS = env.int("JWT_REFRESH_CHAIN_MAX_DAYS", default=30)
# A rotated refresh token presented again within this many seconds (a client's parallel retry)
# is refused; after it, the reuse is taken as theft and the whole chain is revoked.
JWT_REUSE_GRACE_SECONDS = env.int("JWT_REUSE_GRACE_SECONDS", default=10)
