"""Query filters of the staff API (django-filter). Bad values are a 400, never a 500."""

import re
from datetime import date

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.selectors import phone_search_q
from billing.account_numbers import account_number_clean
from billing.models import (
    AccountStatus,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Meter,
    MeterReading,
    ReadingSource,
    ReadingStatus,
    ServiceAccount,
    Tariff,
    Utility,
)

PERIOD_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")


class AccountNumberFormField(forms.CharField):
    """An account number as typed (spaces and dashes allowed); its check digit must hold."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        number = account_number_clean(value)
        if number is None:
            raise forms.ValidationError(
                "Not a valid account number: a digit is wrong or missing.", code="account_number"
            )
        return number


def period_parse(text: str) -> date | None:
    """The first day of a billing month typed as "2026-11", or None if it is not one."""
    match = PERIOD_RE.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        return None
    return date(int(match[1]), int(match[2]), 1)


class PeriodFormField(forms.CharField):
    """A billing month, "2026-11"."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        month = period_parse(value)
        if month is None:
            raise forms.ValidationError('A month such as "2026-11".', code="period")
        return month


@extend_schema_field(OpenApiTypes.STR)
class AccountNumberFilter(filters.CharFilter):
    field_class = AccountNumberFormField


@extend_schema_field(OpenApiTypes.STR)
class PeriodFilter(filters.Filter):
    field_class = PeriodFormField


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.Filter):
    """A related object's id (a whole number; no lookup of the object itself)."""

    field_class = forms.IntegerField


def _phone_q(term: str) -> Q:
    return phone_search_q(term, field="owner__phone") | phone_search_q(
        term, field="contacts__phone"
    )


class ServiceAccountFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        max_length=64,
        help_text="An account number, a phone (owner or contact), a name or a meter serial.",
    )
    number = AccountNumberFilter(help_text="Exact account number; the check digit must hold.")
    phone = filters.CharFilter(
        method="filter_phone", max_length=32, help_text="Owner or contact phone, or digits of it."
    )
    name = filters.CharFilter(
        method="filter_name", max_length=64, help_text="Part of the holder's or owner's name."
    )
    meter = filters.CharFilter(
        field_name="meters__serial", lookup_expr="iexact", max_length=32, help_text="Meter serial."
    )
    status = filters.ChoiceFilter(choices=AccountStatus.choices)
    utility = filters.ChoiceFilter(choices=Utility.choices)
    zone = filters.CharFilter(lookup_expr="iexact", max_length=64)
    tariff = IdFilter(field_name="tariff_id")

    class Meta:
        model = ServiceAccount
        fields = ["operator"]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        if not term:
            return queryset
        match = (
            Q(holder_name__icontains=term)
            | Q(owner__name__icontains=term)
            | Q(meters__serial__iexact=term)
            | _phone_q(term)
        )
        number = account_number_clean(term)
        if number is not None:
            match |= Q(number=number)
        elif term.isdigit():
            match |= Q(number__startswith=term)
        return queryset.filter(match).distinct()

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(_phone_q(value)).distinct() if value.strip() else queryset

    def filter_name(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        return queryset.filter(Q(holder_name__icontains=term) | Q(owner__name__icontains=term))


class MeterFilter(filters.FilterSet):
    serial = filters.CharFilter(lookup_expr="icontains", max_length=32)
    in_service = filters.BooleanFilter(
        field_name="removed_at", lookup_expr="isnull", help_text="true: not removed."
    )

    class Meta:
        model = Meter
        fields = ["account"]


class MeterReadingFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ReadingStatus.choices)
    source = filters.ChoiceFilter(choices=ReadingSource.choices)
    account = IdFilter(field_name="meter__account_id")
    read_after = filters.IsoDateTimeFilter(field_name="read_at", lookup_expr="gte")
    read_before = filters.IsoDateTimeFilter(field_name="read_at", lookup_expr="lt")
    invoiced = filters.BooleanFilter(field_name="invoice", lookup_expr="isnull", exclude=True)

    class Meta:
        model = MeterReading
        fields = ["meter", "is_estimated"]


class InvoiceFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=InvoiceStatus.choices)
    kind = filters.ChoiceFilter(choices=InvoiceKind.choices)
    period = PeriodFilter(help_text='The billed month: "2026-11".')
    account_number = AccountNumberFilter(field_name="account__number")
    number = filters.CharFilter(lookup_expr="iexact", max_length=32)
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lt")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")

    class Meta:
        model = Invoice
        fields = ["account", "operator", "is_estimated"]


class CreditNoteFilter(filters.FilterSet):
    account = IdFilter(field_name="invoice__account_id")

    class Meta:
        model = CreditNote
        fields = ["invoice"]


class TariffFilter(filters.FilterSet):
    utility = filters.ChoiceFilter(choices=Utility.choices)

    class Meta:
        model = Tariff
        fields = ["operator"]
