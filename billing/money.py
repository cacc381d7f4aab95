"""Money: an integer count of minor units plus an ISO 4217 currency. Never a float.

The one rounding rule of the service: an amount computed in Decimal (a tariff rate times a
quantity, a percentage) becomes money by rounding half up (away from zero on .5) to the
currency's minor unit, once, where the invoice line or the charge is created. Nothing is
rounded earlier or again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units of the currencies we support.
CURRENCY_EXPONENTS: dict[str, int] = {
    "KES": 2,
    "TZS": 2,
    "UGX": 0,
    "RWF": 0,
    "XOF": 0,
    "XAF": 0,
    "CDF": 2,
    "PGK": 2,
    "EUR": 2,
}
CURRENCY_CHOICES = [(code, code) for code in CURRENCY_EXPONENTS]
ROUNDING = ROUND_HALF_UP


class CurrencyMismatch(TypeError):
    pass


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"unsupported currency {currency!r}") from None


@dataclass(frozen=True, order=False)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int count of minor units")
        exponent(self.currency)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Exact major-unit amount ("1200.50" KES). Refuses anything finer than the minor unit."""
        if isinstance(amount, float):
            raise TypeError("Money from a float is refused; pass a Decimal or a string")
        value = Decimal(amount)
        scaled = value.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} {currency} is finer than the currency's minor unit")
        return cls(int(scaled), currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str, *, rounding: str) -> Money:
        """A computed amount, rounded to the minor unit with an explicit rounding mode."""
        if not isinstance(amount, Decimal):
            raise TypeError("Money.from_decimal needs a Decimal")
        scaled = amount.scaleb(exponent(currency)).to_integral_value(rounding=rounding)
        return cls(int(scaled), currency)

    # --- reading --------------------------------------------------------------------------
    @property
    def amount(self) -> Decimal:
        """Major units, with exactly the currency's number of decimals."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def format(self) -> str:
        """For people: 'KES 1,200.50', 'XAF 5,000'."""
        places = exponent(self.currency)
        return f"{self.currency} {self.amount:,.{places}f}"

    def __str__(self) -> str:
        return self.format()

    # --- arithmetic -----------------------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money multiplies by an int only; use from_decimal for rates")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __gt__(self, other: Money) -> bool:
        return self.minor > self._same(other).minor

    def __ge__(self, other: Money) -> bool:
        return self.minor >= self._same(other).minor

    def __bool__(self) -> bool:
        return self.minor != 0
