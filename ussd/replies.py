"""What a screen answers. Only the gateway adapters know how a reply travels (CON/END, JSON)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Continue:
    """Show `text` and send the customer's next answer to the screen named `next`.

    `nav` adds the "0 Back 00 Home" line (the keys work everywhere, shown or not).
    """

    text: str
    next: str
    nav: bool = True


@dataclass(frozen=True)
class End:
    """Show `text` and close the session."""

    text: str


@dataclass(frozen=True)
class Retry:
    """The answer was not valid: show the same screen again, `error` (translated) first."""

    error: str


Reply = Continue | End | Retry
