"""Payments in the admin, read-only for managers and administrators: intents, the raw callback
inbox (URL tokens are masked when stored) and suspense. Nothing here moves money: staff act
through the API's audited services."""

from django.contrib import admin

from accounts.admin import PhoneSearchMixin, ReadOnlyAdmin
from payments.models import CallbackDelivery, PaymentIntent, ProcessedEvent, SuspensePayment


@admin.register(PaymentIntent)
class PaymentIntentAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    phone_field = "phone"
    list_display = ("id", "account", "provider", "status", "amount_minor", "currency", "created_at")
    list_filter = ("status", "provider", "channel")
    search_fields = ("id", "account__number", "provider_reference", "receipt")
    date_hierarchy = "created_at"
    list_select_related = ("account",)


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "kind", "status", "received_at", "remote_addr", "event_key")
    list_filter = ("provider", "kind", "status")
    search_fields = ("event_key",)
    date_hierarchy = "received_at"


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("provider", "event_key", "delivery", "created_at")
    list_filter = ("provider",)
    search_fields = ("event_key",)


@admin.register(SuspensePayment)
class SuspensePaymentAdmin(ReadOnlyAdmin):
    list_display = ("receipt", "provider", "amount_minor", "currency", "reason", "status")
    list_filter = ("status", "provider", "reason")
    search_fields = ("receipt", "bill_reference")
