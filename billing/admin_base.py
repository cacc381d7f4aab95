"""The permissions shared by the billing admin's pages (billing.admin, billing.admin_dunning):
managers and administrators look; what is editable is changed by them and audited; nothing is
deleted."""

from django.contrib import admin

from accounts.audit import audit_record, audit_snapshot
from accounts.models import Role
from accounts.permissions import user_has_role


def _may_look(request) -> bool:
    return user_has_role(request.user, Role.MANAGER)


class ManagedAdmin(admin.ModelAdmin):
    """Managers and administrators may look, add and change (never delete); changes audited."""

    def has_module_permission(self, request) -> bool:
        return _may_look(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_add_permission(self, request) -> bool:
        return _may_look(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        model = type(obj)
        before = audit_snapshot(model.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{model._meta.model_name}.{'update' if change else 'create'}",
            instance=obj,
            before=before,
            after=audit_snapshot(obj),
        )


class ManagedInline(admin.TabularInline):
    extra = 0

    def has_view_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(ManagedInline):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
