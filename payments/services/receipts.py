"""The receipt SMS: one per recorded payment, however many paths the money came through."""

from billing.models import Payment
from billing.money import Money, exponent
from billing.selectors import account_balance
from sms.models import MessageKind
from sms.services import message_queue


def money_text(amount: Money) -> str:
    """For an SMS: 'KES 1,200' for whole amounts, 'KES 1,200.50' otherwise."""
    whole = amount.minor % 10 ** exponent(amount.currency) == 0
    return f"{amount.currency} {amount.amount:,.0f}" if whole else amount.format()


def receipt_text(*, payment: Payment) -> str:
    """'Payment of KES 1,200 received for account 100000011. New balance KES 0. Ref NLJ7RT61SV'"""
    account = payment.account
    owed = account_balance(account)
    paid = Money(payment.amount_minor, payment.currency)
    balance = money_text(Money(max(owed.minor, 0), owed.currency))
    text = f"Payment of {money_text(paid)} received for account {account.number}. "
    text += f"New balance {balance}."
    if owed.minor < 0:
        text += f" Credit {money_text(-owed)}."
    return f"{text} Ref {payment.reference}"


def receipt_sms_queue(*, payment: Payment, to: str) -> None:
    """Queue the receipt in the caller's transaction; keyed on the payment, so sent once."""
    message_queue(
        to=to,
        body=receipt_text(payment=payment),
        kind=MessageKind.RECEIPT,
        idempotency_key=f"receipt:{payment.pk}",
        account=payment.account,
    )
