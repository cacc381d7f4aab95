"""Posting to the double-entry ledger, and the chart of accounts.

`ledger_post` is the only writer of journal transactions and entries. It checks the balance in
Python (PostgreSQL checks again at commit) and inserts all entries of a transaction in one
statement. Balances are always sums of entries.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum

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
class Posting:
    account: LedgerAccount
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
    if (kind in PER_SERVICE_ACCOUNT) != (service_account is not None):
        raise ValueError(f"{kind} ledger accounts are per service account, and only they")
    code = ledger_account_code(kind, service_account=service_account, detail=detail)
    account, _ = LedgerAccount.objects.get_or_create(
        operator=operator,
        code=code,
        currency=currency,
        defaults={"kind": kind, "service_account": service_account},
    )
    return account


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


@transaction.atomic
def ledger_post_many(
    *, operator: Operator, journals: list[JournalSpec]
) -> list[JournalTransaction]:
    """Post several balanced journal transactions with two INSERT statements in all.

    Raises DuplicatePosting (and rolls back) if any (source_type, source_id, kind) was posted
    before: a backstop behind the callers' own idempotency checks.
    """
    for spec in journals:
        _check_balanced(spec.postings)
    rows = [
        JournalTransaction(
            operator=operator,
            kind=spec.kind,
            source_type=spec.source_type,
            source_id=str(spec.source_id),
            memo=spec.memo[:200],
            reverses=spec.reverses,
        )
        for spec in journals
    ]
    try:
        with transaction.atomic():
            created = JournalTransaction.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise DuplicatePosting() from exc
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            journal=journal,
            account=posting.account,
            currency=posting.account.currency,
            amount_minor=posting.amount_minor,
        )
        for journal, spec in zip(created, journals, strict=True)
        for posting in spec.postings
    )
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
