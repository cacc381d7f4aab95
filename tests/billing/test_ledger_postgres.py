"""PostgreSQL's own guard of the ledger: balanced at commit, closed once committed, append-only.

Entries are written straight through the ORM here, past ledger_post's own checks, as a bug or a
hand-written script would.
"""

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.exceptions import DuplicatePosting
from billing.ledger import (
    JournalSpec,
    Posting,
    _insert_batch,
    ledger_account_get,
    ledger_post,
    ledger_post_many,
)
from billing.models import JournalTransaction, LedgerAccountKind, LedgerEntry
from tests.billing.factories import account_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
Kind = LedgerAccountKind


@pytest.fixture
def books():
    account = account_make()
    operator = account.operator
    receivable = ledger_account_get(
        operator=operator, kind=Kind.RECEIVABLE, currency="KES", service_account=account
    )
    clearing = ledger_account_get(
        operator=operator, kind=Kind.CLEARING, currency="KES", detail="mpesa"
    )
    clearing_xaf = ledger_account_get(
        operator=operator, kind=Kind.CLEARING, currency="XAF", detail="mtn"
    )
    return operator, receivable, clearing, clearing_xaf


@transaction.atomic
def journal_with(operator, *entries, source_id="1"):
    journal = JournalTransaction.objects.create(
        operator=operator, kind="adjustment", source_type="test", source_id=source_id
    )
    for ledger, amount in entries:
        LedgerEntry.objects.create(
            journal=journal, account=ledger, currency=ledger.currency, amount_minor=amount
        )
    return journal


def test_unbalanced_journal_is_rejected_at_commit(books):
    operator, receivable, clearing, _ = books

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        journal_with(operator, (receivable, 100), (clearing, -99))
        assert LedgerEntry.objects.count() == 2  # accepted until the commit

    assert not JournalTransaction.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_journal_balanced_only_across_currencies_is_rejected(books):
    operator, receivable, _, clearing_xaf = books

    with (
        pytest.raises(IntegrityError, match=r"does not balance: [A-Z]{3} -?100"),
        transaction.atomic(),
    ):
        journal_with(operator, (receivable, 100), (clearing_xaf, -100))


@pytest.mark.parametrize("amounts", [[], [0]], ids=["no entries", "one entry"])
def test_journal_with_fewer_than_two_entries_is_rejected(books, amounts):
    operator, receivable, _, _ = books

    with pytest.raises(IntegrityError, match="at least 2"), transaction.atomic():
        journal_with(operator, *[(receivable, amount) for amount in amounts])


def test_balanced_journal_written_by_hand_commits(books):
    operator, receivable, clearing, _ = books

    with transaction.atomic():
        journal_with(operator, (receivable, 100), (clearing, -60), (clearing, -40))

    assert LedgerEntry.objects.count() == 3


def test_ledger_post_inside_a_larger_transaction_commits(books):
    operator, receivable, clearing, _ = books

    with transaction.atomic():
        for source_id in range(3):  # each journal is inserted in its own savepoint
            ledger_post(
                operator=operator,
                kind="adjustment",
                source_type="test",
                source_id=source_id,
                postings=[Posting(receivable, 100), Posting(clearing, -100)],
            )

    assert LedgerEntry.objects.count() == 6


def test_committed_journal_takes_no_more_entries(books):
    operator, receivable, clearing, _ = books
    journal = journal_with(operator, (receivable, 100), (clearing, -100))

    with pytest.raises(IntegrityError, match="committed earlier"), transaction.atomic():
        # Even a pair that balances: the journal was checked when it committed.
        LedgerEntry.objects.create(
            journal=journal, account=receivable, currency="KES", amount_minor=5
        )
        LedgerEntry.objects.create(
            journal=journal, account=clearing, currency="KES", amount_minor=-5
        )

    assert journal.entries.count() == 2


def test_another_transactions_open_journal_takes_no_entries_from_us(books):
    operator, receivable, clearing, _ = books
    created, release = threading.Event(), threading.Event()
    journal_ids = []

    def other_transaction():
        try:
            with transaction.atomic():
                journal = journal_with(operator, (receivable, 100), (clearing, -100))
                journal_ids.append(journal.pk)
                created.set()
                release.wait(timeout=30)
                transaction.set_rollback(True)
        finally:
            connection.close()

    thread = threading.Thread(target=other_transaction)
    thread.start()
    try:
        assert created.wait(timeout=30)
        with pytest.raises(IntegrityError, match="closed"), transaction.atomic():
            LedgerEntry.objects.create(
                journal_id=journal_ids[0], account=receivable, currency="KES", amount_minor=5
            )
    finally:
        release.set()
        thread.join(timeout=30)


def test_entries_cannot_be_updated_or_deleted(books):
    operator, receivable, clearing, _ = books
    journal = journal_with(operator, (receivable, 100), (clearing, -100))
    entry = journal.entries.first()

    with pytest.raises(IntegrityError, match="append-only"):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_minor=1)
    with pytest.raises(IntegrityError, match="append-only"):
        entry.delete()
    entry.amount_minor = 7
    with pytest.raises(IntegrityError, match="append-only"):
        entry.save()

    entry.refresh_from_db()
    assert entry.amount_minor in (100, -100)
    assert journal.entries.count() == 2


def test_journals_cannot_be_updated_or_deleted(books):
    operator, receivable, clearing, _ = books
    journal = journal_with(operator, (receivable, 100), (clearing, -100))

    with pytest.raises(IntegrityError, match="append-only"):
        JournalTransaction.objects.filter(pk=journal.pk).update(memo="edited")
    with pytest.raises(IntegrityError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_journaltransaction WHERE id = %s", [journal.pk])

    journal.refresh_from_db()
    assert journal.memo == ""


def spec(source_id, *postings):
    return JournalSpec("adjustment", "test", str(source_id), tuple(postings))


def test_batch_posting_commits(books):
    operator, receivable, clearing, _ = books

    journals = ledger_post_many(
        operator=operator,
        journals=[
            spec(n, Posting(receivable, 100 + n), Posting(clearing, -100 - n)) for n in range(3)
        ],
    )

    assert [journal.source_id for journal in journals] == ["0", "1", "2"]
    stored = JournalTransaction.objects.get(pk=journals[2].pk)
    assert sorted(stored.entries.values_list("amount_minor", flat=True)) == [-102, 102]


def test_after_a_batch_a_hand_written_journal_is_still_checked_at_commit(books):
    operator, receivable, clearing, _ = books

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        ledger_post_many(
            operator=operator,
            journals=[spec(1, Posting(receivable, 100), Posting(clearing, -100))],
        )
        journal_with(operator, (receivable, 5), (clearing, -4), source_id="hand")

    assert not JournalTransaction.objects.exists()


def test_batch_with_one_unbalanced_journal_is_refused_whole(books):
    operator, receivable, clearing, _ = books
    journals = [
        spec(1, Posting(receivable, 100), Posting(clearing, -100)),
        spec(2, Posting(receivable, 100), Posting(clearing, -99)),  # past ledger_post's check
        spec(3, Posting(receivable, 7), Posting(clearing, -7)),
    ]

    with pytest.raises(IntegrityError, match="does not balance: KES 1"), transaction.atomic():
        _insert_batch(operator, journals, timezone.now())

    assert not JournalTransaction.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_batch_journal_without_entries_is_refused(books):
    operator, receivable, clearing, _ = books
    journals = [spec(1, Posting(receivable, 100), Posting(clearing, -100)), spec(2)]

    with pytest.raises(IntegrityError, match="at least 2"), transaction.atomic():
        _insert_batch(operator, journals, timezone.now())

    assert not JournalTransaction.objects.exists()


def test_setting_the_batch_flag_by_hand_does_not_skip_the_check(books):
    operator, _, _, _ = books

    with pytest.raises(IntegrityError, match="at least 2"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('billing.ledger_batch', 'on', true)")
        JournalTransaction.objects.create(
            operator=operator, kind="adjustment", source_type="test", source_id="bare"
        )

    assert not JournalTransaction.objects.exists()


def test_batch_reposting_a_source_is_a_duplicate(books):
    operator, receivable, clearing, _ = books
    ledger_post_many(
        operator=operator, journals=[spec(1, Posting(receivable, 100), Posting(clearing, -100))]
    )

    with pytest.raises(DuplicatePosting), transaction.atomic():
        ledger_post_many(
            operator=operator,
            journals=[
                spec(2, Posting(receivable, 5), Posting(clearing, -5)),
                spec(1, Posting(receivable, 100), Posting(clearing, -100)),
            ],
        )

    assert JournalTransaction.objects.count() == 1
