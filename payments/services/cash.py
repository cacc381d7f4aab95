"""Cash an agent took over the counter, recorded with the paper receipt's number."""

from datetime import datetime

from django.db import transaction

from accounts.audit import audit_record, audit_snapshot
from billing.models import Payment, ServiceAccount
from billing.money import Money
from billing.services.payments import payment_record
from payments.services.receipts import receipt_sms_queue

CASH_SOURCE = "cash"


@transaction.atomic
def cash_payment_record(
    *,
    account: ServiceAccount,
    amount: Money,
    receipt_number: str,
    agent,
    received_at: datetime | None = None,
) -> Payment:
    """Dr cash:agent:<id> / Cr the customer, once per receipt number (a replay returns the
    first payment; the same number with another account or amount is refused). Audited; the
    customer gets the receipt SMS."""
    replay = Payment.objects.filter(source=CASH_SOURCE, reference=receipt_number.strip()).exists()
    payment = payment_record(
        account=account,
        amount=amount,
        source=CASH_SOURCE,
        reference=receipt_number,
        received_at=received_at,
        recorded_by=agent,
        clearing=f"cash:agent:{agent.pk}",
    )
    if not replay:
        audit_record(
            actor=agent, action="payment.cash", instance=payment, after=audit_snapshot(payment)
        )
    receipt_sms_queue(payment=payment, to=account.owner.phone)
    return payment
