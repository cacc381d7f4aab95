"""Posting to the double-entry ledger, and the chart of accounts.

`ledger_post` is the only writer of journal transactions and entries. It checks the balance in
Python and inserts all entries of a transaction in one statement; PostgreSQL checks again (see
billing/migrations 0002 and 0006). On PostgreSQL `ledger_post_many` writes all its journals and
their entries in one statement, built from arrays (a thousand journals cost about as much to
parse as one), and the database checks them all at the end of that statement. Balances are
always sums of entries.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.bulk import array_cursor
from billing.exceptions import DuplicatePosting, UnbalancedTransaction
from billing.models import (
    JournalTransaction,
    LedgerAccount,
    LedgerAccountKind,
    LedgerEntry,
    Operator,
    ServiceAccount,
)

Kind = LedgerAccountKind
PER_SERVICE_ACCOUNT = frozenset({Kind.RECEIVABLE, Kind.CUSTOMER_CREDIT})


@dataclass(frozen=True)
class AccountRef:
    """A ledger account known by id and currency, for bulk posting without loading rows."""

    pk: int
    currency: str


@dataclass(frozen=True)
class Posting:
    account: LedgerAccount | AccountRef
    amount_minor: int  # debit > 0, credit < 0


@dataclass(frozen=True)
class JournalSpec:
    """One journal transaction to post (see ledger_post_many)."""

    kind: str
    source_type: str
    source_id: str
    postings: tuple[Posting, ...]
    memo: str = ""
    reverses: JournalTransaction | None = None


def service_account_lock(*, account_id: int) -> ServiceAccount:
    """Lock the service account's row (with its operator loaded) for the rest of the transaction.

    Every write that moves an account's money takes this lock first, so such writes run one at
    a time per account and always read each other's results.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("service_account_lock must run inside a transaction")
    return (
        ServiceAccount.objects.select_for_update(of=("self",))
        .select_related("operator")
        .get(pk=account_id)
    )


def ledger_account_code(
    kind: str, *, service_account: ServiceAccount | None = None, detail: str = ""
) -> str:
    if kind in PER_SERVICE_ACCOUNT:
        return f"{kind}:{service_account.number}"
    return f"{kind}:{detail}" if detail else str(kind)


def _code_checked(kind: str, service_account: ServiceAccount | None, detail: str) -> str:
    if (kind in PER_SERVICE_ACCOUNT) != (service_account is not None):
        raise ValueError(f"{kind} ledger accounts are per service account, and only they")
    return ledger_account_code(kind, service_account=service_account, detail=detail)


def ledger_account_get(
    *,
    operator: Operator,
    kind: str,
    currency: str,
    service_account: ServiceAccount | None = None,
    detail: str = "",
) -> LedgerAccount:
    """The chart-of-accounts entry, created on first use.

    `detail` names the utility (revenue), the mobile-money operator (clearing) or the agent
    (cash, "agent:<id>"); receivable and customer credit are per service account.
    """
    code = _code_checked(kind, service_account, detail)
    account, _ = LedgerAccount.objects.get_or_create(
        operator=operator,
        code=code,
        currency=currency,
        defaults={"kind": kind, "service_account": service_account},
    )
    return account


def ledger_accounts_get(
    *, operator: Operator, currency: str, wanted: list[tuple[str, ServiceAccount | None, str]]
) -> list[LedgerAccount]:
    """Several entries at once, each (kind, service account or None, detail) as for
    `ledger_account_get`, in that order: one query when they all exist (the usual case)."""
    codes = [
        _code_checked(kind, service_account, detail) for kind, service_account, detail in wanted
    ]
    rows = LedgerAccount.objects.filter(operator=operator, currency=currency, code__in=codes)
    found = {row.code: row for row in rows}
    return [
        found.get(code)
        or ledger_account_get(
            operator=operator,
            kind=kind,
            currency=currency,
            service_account=service_account,
            detail=detail,
        )
        for code, (kind, service_account, detail) in zip(codes, wanted, strict=True)
    ]


def _check_balanced(postings: tuple[Posting, ...] | list[Posting]) -> None:
    if len(postings) < 2:
        raise UnbalancedTransaction("A journal transaction needs at least two entries.")
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        if not isinstance(posting.amount_minor, int) or posting.amount_minor == 0:
            raise UnbalancedTransaction("Every entry must be a non-zero whole number of units.")
        sums[posting.account.currency] += posting.amount_minor
    if any(sums.values()):
        raise UnbalancedTransaction(extra={"sums": dict(sums)})


# All journals of one ledger_post_many and their entries in one statement, from arrays (bound
# in binary: %b). Ids are taken from the journal sequence up front, so the entries find their
# journal by its position (n).
BATCH_SQL = """
    WITH spec AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('billing_journaltransaction', 'id')) AS id, s.*
          FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[])
               WITH ORDINALITY AS s (kind, source_type, source_id, memo, reverses_id, n)
    ), journals AS (
        INSERT INTO billing_journaltransaction
               (id, operator_id, kind, source_type, source_id, memo, reverses_id, created_at)
        SELECT id, %s, kind, source_type, source_id, memo, reverses_id, %s FROM spec
    ), entries AS (
        INSERT INTO billing_ledgerentry (journal_id, account_id, currency, amount_minor)
        SELECT spec.id, p.account_id, p.currency, p.amount_minor
          FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::bigint[])
               AS p (n, account_id, currency, amount_minor)
          JOIN spec ON spec.n = p.n
    )
    SELECT id FROM spec ORDER BY n
"""


def _insert_batch(operator: Operator, journals: list[JournalSpec], now) -> list[int]:
    """PostgreSQL: one INSERT of journals and entries (for several journals with
    `billing.ledger_batch` on, so the database checks every journal at the end of the statement
    rather than one by one at commit; see migration 0006). The journal ids, in order."""
    kinds, types, sources, memos, reverses = [], [], [], [], []
    positions, accounts, currencies, amounts = [], [], [], []
    for n, spec in enumerate(journals, start=1):
        kinds.append(str(spec.kind))
        types.append(spec.source_type)
        sources.append(str(spec.source_id))
        memos.append(spec.memo[:200])
        reverses.append(spec.reverses.pk if spec.reverses is not None else None)
        for posting in spec.postings:
            positions.append(n)
            accounts.append(posting.account.pk)
            currencies.append(posting.account.currency)
            amounts.append(posting.amount_minor)
    params = [kinds, types, sources, memos, reverses, operator.pk, now]
    params += [positions, accounts, currencies, amounts]
    batch = len(journals) > 1  # one journal: 0002's check at commit costs no round trip
    with array_cursor() as cursor:
        if batch:
            cursor.execute("SELECT set_config('billing.ledger_batch', 'on', true)")
        cursor.execute(BATCH_SQL, params)
        ids = [row[0] for row in cursor.fetchall()]
        if batch:
            cursor.execute("SELECT set_config('billing.ledger_batch', 'off', true)")
    return ids


def ledger_post_ids(*, operator: Operator, journals: list[JournalSpec], now=None) -> list[int]:
    """Post several balanced journal transactions; their ids, in order (no model instances:
    the bulk path of the daily runs). All or none: in a savepoint of the caller's transaction.

    Raises DuplicatePosting (and rolls back) if any (source_type, source_id, kind) was posted
    before: a backstop behind the callers' own idempotency checks.
    """
    for spec in journals:
        _check_balanced(spec.postings)
    if not journals:
        return []
    if connection.vendor != "postgresql":
        with transaction.atomic():
            return [journal.pk for journal in _insert_orm(operator, journals)]
    try:
        with transaction.atomic():
            return _insert_batch(operator, journals, now or timezone.now())
    except IntegrityError as exc:
        if "uniq_journal_source" in str(exc):
            raise DuplicatePosting() from exc
        raise


def _journal(operator: Operator, spec: JournalSpec, **saved) -> JournalTransaction:
    """The journal row of `spec` (`saved`: pk and created_at of one already inserted)."""
    return JournalTransaction(
        operator=operator,
        kind=spec.kind,
        source_type=spec.source_type,
        source_id=str(spec.source_id),
        memo=spec.memo[:200],
        reverses=spec.reverses,
        **saved,
    )


def _insert_orm(operator: Operator, journals: list[JournalSpec]) -> list[JournalTransaction]:
    """Elsewhere (SQLite): two bulk INSERTs."""
    rows = [_journal(operator, spec) for spec in journals]
    try:
        with transaction.atomic():
            created = JournalTransaction.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise DuplicatePosting() from exc
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            journal=journal,
            account_id=posting.account.pk,
            currency=posting.account.currency,
            amount_minor=posting.amount_minor,
        )
        for journal, spec in zip(created, journals, strict=True)
        for posting in spec.postings
    )
    return created


def ledger_post_many(
    *, operator: Operator, journals: list[JournalSpec]
) -> list[JournalTransaction]:
    """Post several balanced journal transactions (see ledger_post_ids); the journals.

    Raises DuplicatePosting (and rolls back) if any (source_type, source_id, kind) was posted
    before: a backstop behind the callers' own idempotency checks.
    """
    if connection.vendor != "postgresql":
        for spec in journals:
            _check_balanced(spec.postings)
        with transaction.atomic():
            return _insert_orm(operator, journals)
    now = timezone.now()
    ids = ledger_post_ids(operator=operator, journals=journals, now=now)
    created = []
    for pk, spec in zip(ids, journals, strict=True):
        journal = _journal(operator, spec, pk=pk, created_at=now)
        journal._state.adding, journal._state.db = False, connection.alias
        created.append(journal)
    return created


def ledger_post(
    *,
    operator: Operator,
    kind: str,
    source_type: str,
    source_id: str | int,
    postings: list[Posting],
    memo: str = "",
    reverses: JournalTransaction | None = None,
) -> JournalTransaction:
    """Post one balanced journal transaction (see ledger_post_many)."""
    spec = JournalSpec(kind, source_type, str(source_id), tuple(postings), memo, reverses)
    return ledger_post_many(operator=operator, journals=[spec])[0]


def ledger_account_balance_minor(account: LedgerAccount) -> int:
    """Debits minus credits of one ledger account, from its entries."""
    total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount_minor"))["s"]
    return total or 0
