"""The Django admin for billing, for managers and administrators (see accounts.admin).

Editable here: operators, an account's status, address, zone, tariff and extra contacts,
tariff and price index names. Everything that prices or carries money is read-only, because it
changes only through the services that check it and post the ledger (the staff API): tariff
versions, tiers and price index values, invoices and their lines, credit notes, payments,
allocations, meters and readings, document sequences, and the ledger itself (accounts,
journals, entries). Dunning is read-only too (billing.admin_dunning). Nothing is ever
deleted. Changes are recorded in the audit trail.
"""

from django import forms
from django.contrib import admin

from accounts.admin import PhoneSearchMixin, ReadOnlyAdmin
from accounts.exceptions import InvalidPhoneNumber
from accounts.phones import phone_normalize
from billing import admin_dunning  # noqa: F401 - registers the dunning models
from billing.admin_base import ManagedAdmin, ManagedInline, ReadOnlyInline
from billing.models import (
    AccountContact,
    Allocation,
    CreditNote,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    JournalTransaction,
    LedgerAccount,
    LedgerEntry,
    Meter,
    MeterReading,
    Operator,
    Payment,
    PriceIndex,
    PriceIndexValue,
    ServiceAccount,
    Tariff,
    TariffTier,
    TariffVersion,
)


@admin.register(Operator)
class OperatorAdmin(ManagedAdmin):
    list_display = ("name", "slug", "currency", "timezone", "paybill", "ussd_code")
    search_fields = ("name", "slug")
    readonly_fields = ("currency",)

    def get_readonly_fields(self, request, obj=None):
        # The currency of an operator with money in the books never changes.
        return self.readonly_fields if obj is not None else ()


@admin.register(DocumentSequence)
class DocumentSequenceAdmin(ReadOnlyAdmin):
    list_display = ("operator", "kind", "prefix", "next_number")
    list_filter = ("kind",)


class AccountContactForm(forms.ModelForm):
    class Meta:
        model = AccountContact
        fields = ("phone", "name")

    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


class AccountContactInline(ManagedInline):
    model = AccountContact
    form = AccountContactForm
    fields = ("phone", "name")


class ServiceAccountForm(forms.ModelForm):
    class Meta:
        model = ServiceAccount
        fields = ("holder_name", "tariff", "status", "address", "zone")

    def clean_tariff(self):
        tariff, account = self.cleaned_data["tariff"], self.instance
        if tariff.operator_id != account.operator_id or tariff.utility != account.utility:
            raise forms.ValidationError("Pick a tariff of the account's operator and utility.")
        return tariff


class MeterInline(ReadOnlyInline):
    model = Meter
    fields = ("serial", "unit", "max_index", "installed_at", "removed_at")


@admin.register(ServiceAccount)
class ServiceAccountAdmin(PhoneSearchMixin, ManagedAdmin):
    """Accounts are opened through the API (numbered from a gap-free sequence), not here."""

    phone_field = "owner__phone"
    form = ServiceAccountForm
    list_display = ("number", "holder_name", "utility", "status", "zone", "operator")
    list_filter = ("status", "utility", "operator")
    list_select_related = ("operator",)
    search_fields = ("number", "holder_name", "owner__phone", "meters__serial")
    readonly_fields = ("number", "operator", "utility", "owner", "created_at")
    raw_id_fields = ("tariff",)
    inlines = (AccountContactInline, MeterInline)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AccountContact)
class AccountContactAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    list_display = ("phone", "name", "account")
    search_fields = ("phone", "account__number")


@admin.register(Meter)
class MeterAdmin(ReadOnlyAdmin):
    list_display = ("serial", "account", "unit", "installed_at", "removed_at")
    list_select_related = ("account",)
    search_fields = ("serial", "account__number")


@admin.register(MeterReading)
class MeterReadingAdmin(ReadOnlyAdmin):
    list_display = ("meter", "index", "read_at", "source", "status", "consumption", "anomaly")
    list_filter = ("status", "source", "is_estimated")
    list_select_related = ("meter",)
    search_fields = ("meter__serial", "meter__account__number")
    date_hierarchy = "read_at"


class TariffTierInline(ReadOnlyInline):
    model = TariffTier
    fields = ("up_to", "price")


class TariffVersionInline(ReadOnlyInline):
    model = TariffVersion
    fields = ("effective_from", "pricing", "unit_price", "price_index", "standing_charge")
    show_change_link = True


@admin.register(Tariff)
class TariffAdmin(ManagedAdmin):
    """Tariffs are created, and get new versions, through the API (which checks them)."""

    list_display = ("code", "name", "utility", "operator")
    list_filter = ("utility", "operator")
    search_fields = ("code", "name")
    readonly_fields = ("operator", "code", "utility")
    inlines = (TariffVersionInline,)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TariffVersion)
class TariffVersionAdmin(ReadOnlyAdmin):
    list_display = ("tariff", "effective_from", "pricing", "unit_price", "vat_rate")
    list_filter = ("pricing",)
    list_select_related = ("tariff",)
    inlines = (TariffTierInline,)


@admin.register(TariffTier)
class TariffTierAdmin(ReadOnlyAdmin):
    list_display = ("version", "up_to", "price")


class PriceIndexValueInline(ReadOnlyInline):
    model = PriceIndexValue
    fields = ("month", "price")


@admin.register(PriceIndex)
class PriceIndexAdmin(ManagedAdmin):
    """Monthly values are set through the API (refused once a month was invoiced)."""

    list_display = ("name", "operator")
    inlines = (PriceIndexValueInline,)


@admin.register(PriceIndexValue)
class PriceIndexValueAdmin(ReadOnlyAdmin):
    list_display = ("index", "month", "price")
    list_filter = ("index",)


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("position", "kind", "description", "quantity", "unit_price", "amount_minor")


class AllocationInline(ReadOnlyInline):
    model = Allocation
    fields = ("payment", "invoice", "amount_minor", "created_at")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "account", "period", "status", "total_minor", "due_date")
    list_filter = ("status", "kind", "is_estimated")
    list_select_related = ("account",)
    search_fields = ("number", "account__number", "account__holder_name")
    date_hierarchy = "issue_date"
    inlines = (InvoiceLineInline, AllocationInline)


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "position", "kind", "description", "amount_minor")
    list_select_related = ("invoice",)
    search_fields = ("invoice__number",)


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ("number", "invoice", "amount_minor", "currency", "reason", "created_at")
    list_select_related = ("invoice",)
    search_fields = ("number", "invoice__number")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "source", "account", "amount_minor", "currency", "received_at")
    list_filter = ("source",)
    list_select_related = ("account",)
    search_fields = ("reference", "account__number")
    date_hierarchy = "received_at"
    inlines = (AllocationInline,)


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ("payment", "invoice", "amount_minor", "created_at")
    list_select_related = ("payment", "invoice")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "currency", "operator")
    list_filter = ("kind", "currency")
    search_fields = ("code",)


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "currency", "amount_minor")


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "source_type", "source_id", "memo", "created_at")
    list_filter = ("kind", "source_type")
    search_fields = ("source_id", "memo")
    date_hierarchy = "created_at"
    inlines = (LedgerEntryInline,)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("journal", "account", "currency", "amount_minor")
    list_filter = ("currency", "account__kind")
    list_select_related = ("journal", "account")
    search_fields = ("account__code",)
