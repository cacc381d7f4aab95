"""Staff JSON web tokens: simplejwt's tokens with our claims and a refresh-token chain.

Both tokens carry `role` and `name` (for clients) and simplejwt's `hash_password` claim (a
password change revokes them). The refresh token also carries `chain`: the id of the
`RefreshChain` begun at login, which every rotated descendant keeps.
"""

from datetime import datetime
from typing import Self

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import (
    datetime_from_epoch,
    datetime_to_epoch,
    get_md5_hash_password,
)

from accounts.models import RefreshChain, User

CHAIN_CLAIM = "chain"


class StaffRefreshToken(RefreshToken):
    """A refresh token bound to a chain.

    Decoding checks signature, expiry, type and id but NOT the blacklist: only the services in
    `accounts.services.tokens` accept refresh tokens, and they check the blacklist under a row
    lock, where a lookup made before the lock could be stale.
    """

    # The chain is the refresh token's business; access tokens stay small.
    no_copy_claims = (*RefreshToken.no_copy_claims, CHAIN_CLAIM)

    def verify(self) -> None:
        Token.verify(self)
        if not self.payload.get(CHAIN_CLAIM):
            raise TokenError("Token has no chain")

    @property
    def jti(self) -> str:
        return self.payload[api_settings.JTI_CLAIM]

    @property
    def chain_id(self) -> str:
        return self.payload[CHAIN_CLAIM]

    @property
    def expires_at(self) -> datetime:
        return datetime_from_epoch(self.payload["exp"])

    @classmethod
    def for_chain(cls, *, user: User, chain: RefreshChain, expires_at: datetime) -> Self:
        """A new refresh token of `chain`, recorded as outstanding. Call inside a transaction."""
        token = cls()
        token[api_settings.USER_ID_CLAIM] = str(getattr(user, api_settings.USER_ID_FIELD))
        token[api_settings.REVOKE_TOKEN_CLAIM] = password_digest(user)
        token["role"] = user.role
        token["name"] = user.name
        token[CHAIN_CLAIM] = str(chain.pk)
        token.payload["exp"] = datetime_to_epoch(expires_at)
        OutstandingToken.objects.create(
            user=user,
            jti=token.jti,
            token=str(token),
            created_at=token.current_time,
            expires_at=token.expires_at,
        )
        return token


def password_digest(user: User) -> str:
    """The `hash_password` claim simplejwt compares with on every authenticated request."""
    return get_md5_hash_password(user.password)
