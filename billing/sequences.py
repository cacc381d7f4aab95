"""Gap-free document numbers per operator and kind (invoice, credit note, penalty, account).

Numbers are taken under a row lock in the transaction that issues the documents: if that
transaction rolls back, so does the counter, so no number is ever skipped or used twice.
"""

from django.db import transaction

from billing.models import DocumentSequence, Operator

PREFIXES = {"invoice": "INV", "credit_note": "CN", "penalty": "PEN", "fee": "FEE", "account": ""}


def sequence_take(*, operator: Operator, kind: str, count: int = 1) -> list[int]:
    """Reserve the next `count` numbers of `kind`. Must run inside the issuing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_take must run inside the transaction that uses the numbers")
    DocumentSequence.objects.get_or_create(
        operator=operator, kind=kind, defaults={"prefix": PREFIXES.get(kind, kind[:3].upper())}
    )
    sequence = DocumentSequence.objects.select_for_update().get(operator=operator, kind=kind)
    first = sequence.next_number
    sequence.next_number = first + count
    sequence.save(update_fields=["next_number"])
    return list(range(first, first + count))


def document_number(*, operator: Operator, kind: str, number: int) -> str:
    """'INV-000123' (the prefix is per operator and kind, set when the sequence is created)."""
    prefix = PREFIXES.get(kind, kind[:3].upper())
    return f"{prefix}-{number:06d}" if prefix else str(number)
