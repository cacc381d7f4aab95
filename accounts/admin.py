"""The Django admin, for managers and administrators (the roles with `is_staff`).

Access follows roles, not Django's per-model permissions: managers and administrators see
every model here; only users are editable, and only administrators edit an administrator or
grant the admin role. Records (codes, token chains, the audit trail) are read-only. Secrets
(code hashes, password hashes) are never shown. Changes to users are audited like the API's.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction

from accounts.audit import audit_record, audit_snapshot
from accounts.exceptions import InvalidPhoneNumber
from accounts.models import AuditEvent, RefreshChain, Role, SmsCode, User
from accounts.permissions import role_is_admin, user_has_role
from accounts.phones import phone_normalize
from accounts.selectors import phone_search_q


def _may_look(request) -> bool:
    return user_has_role(request.user, Role.MANAGER)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Managers and administrators may look; nobody adds, edits or deletes."""

    def has_module_permission(self, request) -> bool:
        return _may_look(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PhoneSearchMixin:
    """Search also finds a phone typed in any format ("0712 345 678" finds +254712345678)."""

    phone_field = "phone"

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results |= queryset.filter(phone_search_q(search_term, field=self.phone_field))
        return results, may_have_duplicates


class _PhoneFormMixin:
    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


_PHONE_HELP = "Any format; stored in E.164 (+254712345678)."


class UserAddForm(_PhoneFormMixin, AdminUserCreationForm):
    """Phone normalized; password hashed by Django's own creation form (or disabled)."""

    phone = forms.CharField(label="Phone number", max_length=32, help_text=_PHONE_HELP)
    language = forms.ChoiceField(choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE)

    class Meta:
        model = User
        fields = ("phone", "name", "role", "language", "is_active")


class UserEditForm(_PhoneFormMixin, UserChangeForm):
    phone = forms.CharField(label="Phone number", max_length=32, help_text=_PHONE_HELP)
    language = forms.ChoiceField(choices=settings.LANGUAGES)

    class Meta:
        model = User
        fields = ("phone", "password", "name", "role", "language", "is_active", "is_superuser")


@admin.register(User)
class UserAdmin(PhoneSearchMixin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserAddForm
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("Profile", {"fields": ("name", "role", "language")}),
        ("Access", {"fields": ("is_active", "is_superuser")}),
        ("SMS codes", {"fields": ("failed_code_checks", "code_locked_until")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "phone",
                    "name",
                    "role",
                    "language",
                    "is_active",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    list_display = ("phone", "name", "role", "is_active", "last_login", "date_joined")
    list_filter = ("role", "is_active", "language")
    search_fields = ("phone", "name")
    ordering = ("phone",)
    filter_horizontal = ()
    readonly_fields = ("failed_code_checks", "code_locked_until", "last_login", "date_joined")

    def has_module_permission(self, request) -> bool:
        return _may_look(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _may_look(request)

    def has_add_permission(self, request) -> bool:
        return _may_look(request)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and (obj.is_superuser or obj.role == Role.ADMIN):
            return role_is_admin(request.user)
        return _may_look(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        """Deactivate instead: a user's history (payments, the audit trail) stays theirs."""
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not role_is_admin(request.user):
            fields = (*fields, "is_superuser")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not role_is_admin(request.user) and "role" in form.base_fields:
            form.base_fields["role"].choices = [c for c in Role.choices if c[0] != Role.ADMIN]
        return form

    def save_model(self, request, obj, form, change) -> None:
        before = audit_snapshot(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="user.update" if change else "user.create",
            instance=obj,
            before=before,
            after=audit_snapshot(obj),
        )

    def user_change_password(self, request, id, form_url=""):
        """Django's password form, plus an audit event (without the password) when it saved."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            old_hash = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != old_hash:
                    audit_record(actor=request.user, action="user.password_set", instance=user)
        return response


@admin.register(SmsCode)
class SmsCodeAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    # code_hash is left out of every view on purpose.
    fields = (
        "id",
        "phone",
        "purpose",
        "pepper_version",
        "attempts",
        "created_at",
        "expires_at",
        "consumed_at",
        "requested_ip",
    )
    list_display = ("phone", "purpose", "created_at", "expires_at", "attempts", "consumed_at")
    list_filter = ("purpose",)
    search_fields = ("phone",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)


@admin.register(RefreshChain)
class RefreshChainAdmin(ReadOnlyAdmin):
    fields = ("id", "user", "started_at", "revoked_at", "revoked_reason")
    list_display = ("id", "user", "started_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason",)
    list_select_related = ("user",)
    search_fields = ("user__phone", "user__name")
    ordering = ("-started_at",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    fields = (
        "at",
        "actor",
        "actor_role",
        "action",
        "object_type",
        "object_id",
        "before",
        "after",
        "ip",
        "request_method",
        "request_path",
    )
    list_display = ("at", "actor", "actor_role", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type", "actor_role")
    list_select_related = ("actor",)
    search_fields = ("action", "object_type", "object_id", "actor__phone")
    date_hierarchy = "at"
