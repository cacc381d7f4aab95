"""The outbox in the admin: read-only, and the sealed text of a message is never shown."""

from django.contrib import admin

from accounts.admin import PhoneSearchMixin, ReadOnlyAdmin
from sms.models import OutboundMessage


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_field = "to"
    # sealed_body is left out of every view on purpose; `body` has any secret masked.
    fields = (
        "to",
        "kind",
        "body",
        "status",
        "idempotency_key",
        "created_at",
        "sent_at",
        "attempts",
        "gateway",
        "gateway_message_id",
        "error",
    )
    list_display = ("to", "kind", "status", "created_at", "sent_at", "attempts", "gateway")
    list_filter = ("kind", "status", "gateway")
    search_fields = ("to", "idempotency_key", "gateway_message_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
