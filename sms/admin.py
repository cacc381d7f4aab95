"""The outbox, contacts and inbound traffic in the admin: read-only; sealed text never shown."""

from django.contrib import admin

from accounts.admin import PhoneSearchMixin, ReadOnlyAdmin
from sms.models import CallbackRequest, InboundMessage, OutboundMessage, SmsContact


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_field = "to"
    # sealed_body is left out of every view on purpose; `body` has any secret masked.
    fields = (
        "to",
        "kind",
        "body",
        "status",
        "error",
        "flagged",
        "idempotency_key",
        "account_id",
        "operator_key",
        "encoding",
        "segments",
        "cost",
        "cost_currency",
        "created_at",
        "not_before",
        "defer_reason",
        "sent_at",
        "delivered_at",
        "attempts",
        "gateway",
        "gateway_message_id",
    )
    list_display = ("to", "kind", "status", "created_at", "sent_at", "segments", "cost", "gateway")
    list_filter = ("kind", "status", "gateway", "flagged", "defer_reason")
    search_fields = ("to", "idempotency_key", "gateway_message_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)


@admin.register(SmsContact)
class SmsContactAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    """Who opted out and who a gateway refuses: bills and notices must reach them otherwise."""

    list_display = ("phone", "language", "opted_out", "blocked_gateways", "blocked_at")
    list_filter = ("opted_out", "language")
    search_fields = ("phone", "blocked_reason")
    ordering = ("phone",)


@admin.register(InboundMessage)
class InboundMessageAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = ("phone", "gateway", "command", "received_at", "handled_at", "error")
    list_filter = ("gateway", "command")
    search_fields = ("phone", "external_id")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)


@admin.register(CallbackRequest)
class CallbackRequestAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "endpoint", "outcome", "remote_ip")
    list_filter = ("gateway", "endpoint", "outcome")
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
