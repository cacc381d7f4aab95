"""The base of every error our services raise on purpose.

Each error has a stable machine `code`; the API renders it as {"code", "message", "extra"},
USSD and SMS render the same codes as short localised texts.
"""

from typing import Any


class ApplicationError(Exception):
    code = "error"
    message = "The request could not be completed."
    http_status = 400

    def __init__(
        self,
        message: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.message
        self.extra = extra or {}
        self.retry_after = retry_after
        super().__init__(self.message)
