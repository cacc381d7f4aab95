"""Reads the USSD menus need, as plain values the session keeps for its other hops.

A phone's accounts are those it owns (ServiceAccount.owner.phone) or is a contact of
(AccountContact.phone), of the operator whose USSD code was dialled (every operator's when
the code is none of theirs), closed accounts left out.
"""

from dataclasses import dataclass

from django.db.models import F, IntegerField, Q, Subquery, Value

from accounts.models import User
from billing.compiled import CompiledQuery, Slot
from billing.models import (
    AccountStatus,
    Meter,
    Operator,
    ServiceAccount,
)
from sms.models import SmsContact

OPERATOR_FIELDS = (
    "id",
    "name",
    "currency",
    "phone_region",
    "timezone",
    "paybill",
    "help_phone",
    "ussd_code",
)
ADDRESS_CHARS = 24


def caller_user(phone: str) -> tuple[int | None, str]:
    """(user id, language) of the phone: its user's language, else the one chosen on the phone
    itself (sms.SmsContact: the USSD menu or the SMS LANG command); (None, "") when neither.
    One query."""
    users = User.objects.filter(phone=phone).values_list("id", "language")
    chosen = (
        SmsContact.objects.filter(phone=phone)
        .annotate(no_user=Value(None, output_field=IntegerField()))
        .values_list("no_user", "language")
    )
    rows = list(users.union(chosen, all=True))
    user = next((row for row in rows if row[0] is not None), None)
    if user is not None:
        return user[0], user[1]
    return None, next((row[1] for row in rows if row[1]), "")


def operator_for_code(service_code: str) -> dict | None:
    """The operator whose USSD code was dialled (as values), or None."""
    code = (service_code or "").strip()
    if not code:
        return None
    return Operator.objects.filter(ussd_code=code).values(*OPERATOR_FIELDS).first()


@dataclass(frozen=True)
class Caller:
    user_id: int | None
    language: str
    accounts: list[dict]
    operators: dict[int, dict]  # of the accounts, by id


# Sentinels standing for the values of the compiled queries (never real phones or ids).
_PHONE, _OPERATOR = "\x00phone", -7_000_000_001


def _accounts_query(phone: str, operator: int | None = None):
    """The caller's accounts (of `operator` unless it is None), with the caller's user and the
    language chosen on the phone itself (for a phone with no user)."""
    user = User.objects.filter(phone=phone)
    chosen = SmsContact.objects.filter(phone=phone)
    accounts = (
        ServiceAccount.objects.filter(Q(owner__phone=phone) | Q(contacts__phone=phone))
        .exclude(status=AccountStatus.CLOSED)
        .annotate(
            caller_id=Subquery(user.values("id")[:1]),
            caller_language=Subquery(user.values("language")[:1]),
            phone_language=Subquery(chosen.values("language")[:1]),
        )
        .order_by("id")
        .distinct()
    )
    if operator is not None:
        accounts = accounts.filter(operator_id=operator)
    return accounts.values(
        "id",
        "number",
        "utility",
        "status",
        "tariff_id",
        "operator_id",
        "address",
        "caller_id",
        "caller_language",
        "phone_language",
    )


# Compiled once per process and database: on a hop, compiling the query through the ORM
# costs several times the CPU of running it.
_accounts_of_any = CompiledQuery(_accounts_query, phone=Slot(_PHONE))
_accounts_of_operator = CompiledQuery(_accounts_query, phone=Slot(_PHONE), operator=Slot(_OPERATOR))


def _accounts_rows(phone: str, operator_id: int | None) -> list[dict]:
    if operator_id is None:
        return _accounts_of_any.dicts(phone=phone)
    return _accounts_of_operator.dicts(phone=phone, operator=operator_id)


def caller_load(phone: str, operator: dict | None) -> Caller:
    """The caller's user and accounts, with the accounts' operators: one query when the code
    dialled is an operator's (its accounts only); a second one reads the operators when it is
    not, or reads the user of a phone that has no account. The language is the user's, else
    the one chosen on the phone (caller_user)."""
    rows = _accounts_rows(phone, operator["id"] if operator is not None else None)
    if rows:
        first = rows[0]
        user_id = first["caller_id"]
        chosen = first["caller_language"] if user_id is not None else first["phone_language"]
        language = chosen or ""
    else:
        user_id, language = caller_user(phone)
    for row in rows:
        del row["caller_id"], row["caller_language"], row["phone_language"]
        row["address"] = row["address"][:ADDRESS_CHARS]
    operators = {operator["id"]: operator} if operator is not None else {}
    missing = {row["operator_id"] for row in rows} - operators.keys()
    if missing:
        found = Operator.objects.filter(pk__in=missing).values(*OPERATOR_FIELDS)
        operators.update({values["id"]: values for values in found})
    return Caller(user_id, language, rows, operators)


def account_meters(account_id: int) -> list[dict]:
    """The account's meters in service (id, serial, max_index, initial), oldest first."""
    meters = Meter.objects.filter(account_id=account_id, removed_at__isnull=True)
    return list(
        meters.order_by("installed_at", "id").values(
            "id", "serial", "max_index", initial=F("initial_index")
        )
    )
