"""Identities (a phone number per person), their SMS codes, token chains and the audit trail."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.phones import phone_normalize


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    TECHNICIAN = "technician", "Technician"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Administrator"


STAFF_ROLES = frozenset({Role.AGENT, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **fields):
        user = self.model(phone=phone_normalize(phone), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields):
        fields.update(role=Role.ADMIN, is_active=True, is_superuser=True)
        return self.create_user(phone, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, identified by a phone number in E.164. Inactive until the number is proven."""

    phone = models.CharField("phone number", max_length=16, unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    language = models.CharField(max_length=8, default="en")
    is_active = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Wrong SMS codes in a row, across challenges; reset by a right one.
    failed_code_checks = models.PositiveIntegerField(default=0)
    code_locked_until = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        indexes = [models.Index(fields=["role"])]

    def __str__(self) -> str:
        return self.name or self.phone

    @property
    def is_staff(self) -> bool:
        """Who may open the Django admin."""
        return self.is_superuser or self.role in (Role.MANAGER, Role.ADMIN)

    @property
    def is_staff_member(self) -> bool:
        """Anyone working for the operator (agent and up), as opposed to a customer."""
        return self.role in STAFF_ROLES


class SmsCodePurpose(models.TextChoices):
    ACTIVATION = "activation", "Activate a phone number"


class SmsCode(models.Model):
    """One code sent (or, for a number that is already active, one notice sent) to a phone.

    Only a keyed hash of the code is kept. Rows are also the record the send quotas count.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(max_length=16)
    purpose = models.CharField(max_length=16, choices=SmsCodePurpose.choices)
    # HMAC-SHA256 hex digest; empty when no code was sent (the owner was notified instead).
    code_hash = models.CharField(max_length=64, blank=True)
    pepper_version = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    requested_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code {self.id}"


class RefreshChain(models.Model):
    """The refresh tokens descended, by rotation, from one login. Revoked as a whole."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_chains")
    started_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"chain {self.id}"


class AuditEvent(models.Model):
    """Who changed what, when, with the object's state before and after. Never edited."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor_role = models.CharField(max_length=16, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_method = models.CharField(max_length=8, blank=True)
    request_path = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"
