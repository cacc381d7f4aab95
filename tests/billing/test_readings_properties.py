"""Properties of the consumption rule (billing.services.metering) and of readings on a meter."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.services.metering import (
    MeterState,
    ReadingBelowPrevious,
    estimated_index,
    reading_consumption,
    register_turn,
)
from billing.services.readings import reading_submit
from tests.billing.meter_factories import meter_make

REGISTERS = [D(999), D(9999), D(99999), D("9999.9"), D("99999.999")]


def units(max_value) -> st.SearchStrategy[D]:
    return st.decimals(min_value=0, max_value=max_value, places=3)


@st.composite
def states(draw, estimates=False):
    max_index = draw(st.sampled_from(REGISTERS))
    return MeterState(
        max_index=max_index,
        real_index=draw(units(max_index)),
        estimated_since=draw(units(500)) if estimates else D(0),
        history=tuple(draw(st.lists(units(200), max_size=3))),
    )


@given(data=st.data(), state=states())
def test_consumption_is_never_negative_without_estimates(data, state):
    index = data.draw(units(state.max_index))
    try:
        consumption, rolled_over = reading_consumption(state, index)
    except ReadingBelowPrevious as refused:
        assert index < state.real_index
        assert refused.code == "reading_below_previous"
        return
    assert consumption >= 0
    assert rolled_over == (index < state.real_index)
    if not rolled_over:
        assert consumption == index - state.real_index


@given(data=st.data(), state=states(estimates=True))
def test_only_an_estimate_correction_goes_negative_and_never_beyond_the_estimates(data, state):
    index = data.draw(units(state.max_index))
    try:
        consumption, _ = reading_consumption(state, index)
    except ReadingBelowPrevious:
        return
    if consumption < 0:
        assert state.estimated_since > 0
        assert consumption >= -state.estimated_since


@given(data=st.data(), max_index=st.sampled_from(REGISTERS), with_history=st.booleans())
def test_rollover_consumption_equals_the_true_usage(data, max_index, with_history):
    turn = register_turn(max_index)
    previous = data.draw(st.decimals(min_value=turn * D("0.9"), max_value=max_index, places=3))
    # Usage that carries the register past its maximum, at most a tenth of a turn.
    usage = data.draw(st.decimals(min_value=turn - previous, max_value=turn / 10, places=3))
    history = (usage, usage / 2, usage) if with_history else ()
    state = MeterState(max_index=max_index, real_index=previous, history=history)
    index = previous + usage - turn

    consumption, rolled_over = reading_consumption(state, index)

    assert (consumption, rolled_over) == (usage, True)


@given(
    data=st.data(),
    max_index=st.sampled_from(REGISTERS),
    guesses=st.lists(units(60), min_size=1, max_size=4),
)
def test_estimates_plus_their_correction_bill_exactly_the_true_usage(data, max_index, guesses):
    turn = register_turn(max_index)
    previous = data.draw(units(max_index))
    usage = data.draw(units(turn / 10))
    index = (previous + usage) % turn
    estimated = previous
    for guess in guesses:
        estimated, _ = estimated_index(previous=estimated, estimate=guess, max_index=max_index)
    state = MeterState(max_index=max_index, real_index=previous, estimated_since=sum(guesses))

    consumption, _ = reading_consumption(state, index)

    assert sum(guesses) + consumption == usage
    if previous + usage < turn and previous + sum(guesses) < turn:
        assert consumption == index - estimated  # measured from the last estimated index


@pytest.mark.django_db
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(min_value=900, max_value=999),
    usages=st.lists(st.decimals(min_value=10, max_value=20, places=3), min_size=1, max_size=12),
)
def test_readings_on_a_wrapping_register_bill_every_unit_once(start, usages):
    meter = meter_make(max_index=999, initial_index=start)
    index, wraps, readings = D(start), 0, []
    with time_machine.travel(datetime(2027, 6, 1, tzinfo=UTC), tick=False):
        for month, usage in enumerate(usages, start=1):
            wraps += index + usage >= 1000
            index = (index + usage) % 1000
            read_at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=30 * month)
            readings.append(
                reading_submit(meter=meter, index=index, read_at=read_at, source="agent")
            )

    assert {r.status for r in readings} == {"accepted"}
    assert sum(r.consumption for r in readings) == sum(usages)
    assert sum(r.rolled_over for r in readings) == wraps
