"""One refresh token traded by several clients at the same moment: one pair, never two."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RefreshChain, Role, User
from accounts.services.tokens import token_pair_obtain

THREADS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_give_exactly_one_pair():
    User.objects.create_user("+254712345678", "pass phrase 42", role=Role.AGENT, is_active=True)
    pair = token_pair_obtain(phone="+254712345678", password="pass phrase 42", ip=None)
    barrier = threading.Barrier(THREADS)
    responses: list = [None] * THREADS

    def attempt(index: int) -> None:
        client = APIClient()
        try:
            barrier.wait(timeout=10)
            responses[index] = client.post("/api/auth/refresh", {"refresh": pair.refresh})
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            responses[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == [200] + [401] * (THREADS - 1)
    refused = [r.json()["code"] for r in responses if r.status_code == 401]
    assert set(refused) == {"token_reused"}
    assert OutstandingToken.objects.count() == 2
    assert BlacklistedToken.objects.count() == 1
    assert RefreshChain.objects.get().revoked_at is None
    winner = next(r for r in responses if r.status_code == 200).json()
    again = APIClient().post("/api/auth/refresh", {"refresh": winner["refresh"]})
    assert again.status_code == 200
