"""Billing errors, each with a stable code (rendered by the API, USSD and SMS alike)."""

from accounts.errors import ApplicationError


class UnbalancedTransaction(ApplicationError):
    code = "ledger_unbalanced"
    message = "A journal transaction must balance to zero in every currency."
    http_status = 500


class DuplicatePosting(ApplicationError):
    code = "ledger_duplicate"
    message = "This event was already posted to the ledger."
    http_status = 409


class CurrencyNotAccepted(ApplicationError):
    code = "currency_mismatch"
    message = "The amount is not in the account's currency."
