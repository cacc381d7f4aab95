"""Staff management of users: create, update, set a password. Every change is audited.

Rules (enforced here, whoever calls): only managers and administrators manage users; a manager
can neither give the admin role nor touch an administrator's account; nobody takes away their
own role or deactivates themselves. Passwords go through Django's validators and are never
written to the audit trail or the logs.
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.audit import audit_record, audit_snapshot
from accounts.exceptions import (
    InvalidPassword,
    InvalidPhoneNumber,
    OwnAccountChange,
    PhoneTaken,
    RoleNotAllowed,
)
from accounts.models import Role, User
from accounts.permissions import role_is_admin, user_has_role
from accounts.phones import phone_mask, phone_normalize

logger = logging.getLogger(__name__)

UPDATABLE_FIELDS = frozenset({"name", "role", "language", "is_active"})


def _fields(field: str, *messages: str) -> dict[str, Any]:
    """The `extra` of a field error, in the same shape as the API's validation errors."""
    return {"fields": {field: list(messages)}}


def _ensure_manager(actor: User) -> None:
    if not user_has_role(actor, Role.MANAGER):
        raise RoleNotAllowed()


def _ensure_may_grant(actor: User, role: str) -> None:
    if role == Role.ADMIN and not role_is_admin(actor):
        raise RoleNotAllowed(extra=_fields("role", RoleNotAllowed.message))


def _ensure_may_manage(actor: User, user: User) -> None:
    """Only administrators manage an administrator's account."""
    _ensure_manager(actor)
    if (user.is_superuser or user.role == Role.ADMIN) and not role_is_admin(actor):
        raise RoleNotAllowed()


def _phone_clean(phone: str) -> str:
    try:
        return phone_normalize(phone)
    except InvalidPhoneNumber as exc:
        raise InvalidPhoneNumber(extra=_fields("phone", InvalidPhoneNumber.message)) from exc


def _password_check(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidPassword(extra=_fields("password", *exc.messages)) from exc


@transaction.atomic
def user_create(
    *,
    actor: User,
    phone: str,
    role: Role,
    name: str = "",
    language: str = "en",
    is_active: bool = True,
    password: str | None = None,
) -> User:
    """Create a staff member or a customer. Without a password, password login is disabled."""
    _ensure_manager(actor)
    _ensure_may_grant(actor, role)
    user = User(
        phone=_phone_clean(phone), name=name, role=role, language=language, is_active=is_active
    )
    if password:
        _password_check(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise PhoneTaken(extra=_fields("phone", PhoneTaken.message)) from exc
    audit_record(actor=actor, action="user.create", instance=user, after=audit_snapshot(user))
    logger.info(
        "user created",
        extra={"user_id": user.pk, "role": role, "phone": phone_mask(user.phone)},
    )
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, data: Mapping[str, Any]) -> User:
    """Change some of name, role, language and is_active.

    Deactivating a user locks them out at once: the API refuses an inactive user's tokens.
    """
    unknown = set(data) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"user_update cannot change {sorted(unknown)}")
    user = User.objects.select_for_update().get(pk=user.pk)
    _ensure_may_manage(actor, user)
    if "role" in data:
        _ensure_may_grant(actor, data["role"])
    if user.pk == actor.pk and (
        data.get("role", user.role) != user.role or not data.get("is_active", True)
    ):
        raise OwnAccountChange()
    before = audit_snapshot(user)
    for field, value in data.items():
        setattr(user, field, value)
    user.save(update_fields=sorted(data))
    audit_record(
        actor=actor,
        action="user.update",
        instance=user,
        before=before,
        after=audit_snapshot(user),
    )
    return user


@transaction.atomic
def user_password_set(*, actor: User, user: User, password: str) -> None:
    """Give `user` a new password. Their existing tokens stop working (CHECK_REVOKE_TOKEN)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    _ensure_may_manage(actor, user)
    _password_check(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=actor, action="user.password_set", instance=user)
    logger.info("password set", extra={"user_id": user.pk, "actor_id": actor.pk})
