"""The metering rules, pure (no database): consumption from register indexes, rollover, anomalies.

Consumption of a new reading with index `i` on a meter:

    r = the index of the meter's last accepted *real* (not estimated) reading, or the meter's
        initial index when it has none;
    e = the sum of the consumption of the accepted estimated readings after that reading
        (what was billed on guesses since the register was last seen);
    d = the units the register advanced from r to i:
        i - r                 when i >= r;
        T - r + i             when i < r and a rollover is plausible (below), where T is one
                              full turn of the register (`register_turn`);
        otherwise the reading is refused: ReadingBelowPrevious, naming r;
    consumption = d - e.

Without estimates (e = 0) this is "index minus the previous accepted index", never negative.
After estimates it equals "index minus the last estimated index" (the estimated index is r
plus the estimates, wrapped on the register), so the real reading corrects the guesses: an
overestimate comes back as a negative consumption (a correction credit on the next invoice),
never as an error, as long as the index is not below r itself.

A rollover is plausible when both hold:
  1. d <= T / 10: the previous real reading was in the top tenth of the register and the new
     one is near zero (the register can only have wrapped from close to its maximum);
  2. the meter has no history yet, or d - e <= 3 x the average consumption of its last 3
     accepted readings (the wrapped consumption looks like its usual usage).

Anomalies hold a reading for review instead of billing it: its consumption is over 3 x the
average of the meter's last 3 accepted readings (only with a full 3-reading history and an
average above zero), or it is zero and so were the 2 accepted readings before it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from accounts.errors import ApplicationError

HISTORY_PERIODS = 3
HIGH_FACTOR = Decimal(3)
ROLLOVER_SPAN = Decimal("0.1")

# Why a reading waits for review (MeterReading.anomaly).
ANOMALY_HIGH = "over_3x_average"
ANOMALY_ZERO = "zero_3_periods"
HELD_CUSTOMER = "customer_submitted"


def index_text(value: Decimal) -> str:
    """An index as people read it: 1234.5, not 1234.500 or 1.2345E+3."""
    return f"{value.normalize():f}"


class ReadingBelowPrevious(ApplicationError):
    code = "reading_below_previous"
    message = "The index is below the meter's previous reading."

    def __init__(self, *, index: Decimal, previous: Decimal) -> None:
        super().__init__(
            f"The index {index_text(index)} is below the previous reading "
            f"{index_text(previous)}; check the digits.",
            extra={"index": index_text(index), "previous_index": index_text(previous)},
        )


@dataclass(frozen=True)
class MeterState:
    """What a new reading on a meter is measured against."""

    max_index: Decimal
    real_index: Decimal  # r: last accepted real reading, or the initial index
    estimated_since: Decimal = Decimal(0)  # e: accepted estimates after it
    history: tuple[Decimal, ...] = ()  # consumption of the last accepted readings, newest first
    last: tuple[Decimal, datetime] | None = None  # the newest accepted reading: index, read at


def register_turn(max_index: Decimal) -> Decimal:
    """Units in one full turn of the register: max_index plus one step of its last digit.

    99999 -> 100000, 99999.9 -> 100000.0, 65535 -> 65536.
    """
    exponent = max_index.normalize().as_tuple().exponent
    step = Decimal(1).scaleb(min(int(exponent), 0))
    return max_index + step


def average(values: Sequence[Decimal]) -> Decimal:
    return sum(values, Decimal(0)) / len(values)


def reading_consumption(state: MeterState, index: Decimal) -> tuple[Decimal, bool]:
    """(consumption, rolled_over) of a reading with `index` (rules in the module docstring)."""
    if index >= state.real_index:
        return index - state.real_index - state.estimated_since, False
    turn = register_turn(state.max_index)
    wrapped = turn - state.real_index + index
    if not _rollover_plausible(state, wrapped, turn):
        raise ReadingBelowPrevious(index=index, previous=state.real_index)
    return wrapped - state.estimated_since, True


def _rollover_plausible(state: MeterState, wrapped: Decimal, turn: Decimal) -> bool:
    if wrapped > turn * ROLLOVER_SPAN:
        return False
    history = state.history[:HISTORY_PERIODS]
    if not history:
        return True
    return wrapped - state.estimated_since <= HIGH_FACTOR * average(history)


def reading_anomaly(history: Sequence[Decimal], consumption: Decimal) -> str:
    """Why a reading with this consumption should wait for review, or "" when it need not."""
    recent = tuple(history[:HISTORY_PERIODS])
    if len(recent) == HISTORY_PERIODS:
        mean = average(recent)
        if mean > 0 and consumption > HIGH_FACTOR * mean:
            return ANOMALY_HIGH
    before = recent[: HISTORY_PERIODS - 1]
    if consumption == 0 and len(before) == HISTORY_PERIODS - 1 and not any(before):
        return ANOMALY_ZERO
    return ""


def estimated_index(
    *, previous: Decimal, estimate: Decimal, max_index: Decimal
) -> tuple[Decimal, bool]:
    """(index, rolled_over) of an estimate: previous + estimate, wrapped on the register."""
    turn = register_turn(max_index)
    total = previous + estimate
    if total >= turn:
        return total % turn, True
    return total, False
