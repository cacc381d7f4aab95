"""Who may call a staff API endpoint, by role. One design: the `role_required` factory.

`role_required(*roles)` returns a DRF permission class that lets through an authenticated,
active user whose role is one of `roles`. Administrators (role admin, or a superuser) always
pass. There is no other implied ranking: agents and technicians do different work, and a
manager passes an agents' endpoint only if it names managers too, so every endpoint says in
one line exactly who may call it. Three classes are ready-made: `IsStaffMember` (agent and
up), `IsManager` (manager, admin) and `IsAdmin`.

    from accounts.models import Role
    from accounts.permissions import IsAdmin, IsManager, IsStaffMember, role_required

    class InvoiceListApi(APIView):
        permission_classes = [IsStaffMember]            # agent, technician, manager, admin

    class TariffUpdateApi(APIView):
        permission_classes = [IsManager]                # manager, admin

    class MeterReadingCreateApi(APIView):
        permission_classes = [role_required(Role.TECHNICIAN, Role.MANAGER)]  # + admin

    class SettingsUpdateApi(APIView):
        permission_classes = [IsAdmin]                  # admin only

An anonymous caller gets 401 (the JWT authenticator asks for credentials); an authenticated
caller without the role gets 403 with code "permission_denied".
"""

from rest_framework.permissions import BasePermission

from accounts.models import Role


def role_is_admin(user) -> bool:
    """Administrators: the admin role or a superuser. They pass every role check."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_superuser or user.role == Role.ADMIN)
    )


def user_has_role(user, *roles: Role) -> bool:
    """The rule of `role_required`, for code outside a DRF view (admin, services)."""
    if role_is_admin(user):
        return True
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.role in roles
    )


def role_required(*roles: Role) -> type[BasePermission]:
    """A permission class admitting `roles` (and administrators). Unknown roles fail at import."""
    allowed = tuple(Role(role) for role in roles)
    label = "_".join(role.value for role in allowed) or "admin"

    class RoleRequired(BasePermission):
        message = "Your role does not allow this."
        allowed_roles = frozenset({*allowed, Role.ADMIN})

        def has_permission(self, request, view) -> bool:
            return user_has_role(request.user, *allowed)

    RoleRequired.__name__ = RoleRequired.__qualname__ = f"RoleRequired_{label}"
    return RoleRequired


IsStaffMember = role_required(Role.AGENT, Role.TECHNICIAN, Role.MANAGER)
IsManager = role_required(Role.MANAGER)
IsAdmin = role_required()
