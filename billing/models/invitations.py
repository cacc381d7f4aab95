"""Invitation codes: how a phone links itself to a service account it does not own yet.

Staff issue a code per account and print it on the invitation letter; the customer dials the
USSD service, types the account number and the code, and their phone becomes a contact of the
account. Only a keyed hash of the code is kept (accounts.codes). A code works once, expires,
and the invitation locks after too many wrong codes. Only the newest invitation of an account
counts: issuing a new letter retires the older codes.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.models.customers import ServiceAccount


class AccountInvitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="invitations"
    )
    # HMAC-SHA256 hex digest of the code, bound to this invitation (accounts.codes).
    code_hash = models.CharField(max_length=64)
    pepper_version = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_by_phone = models.CharField(max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"invitation {self.id} for {self.account_id}"
