"""A deadline per hop: a hop still running after it is interrupted and answered politely.

Gateways give a hop about 10 seconds, then drop the session with a useless error on the
handset. We stop at HOP_DEADLINE_SECONDS (2 s) instead: a timer signal (SIGALRM) raises
HopDeadlineExceeded inside whatever is running (a transaction in progress rolls back) and
the engine answers a polite END.

Signals reach only the main thread: gunicorn's sync workers (the production setup, see the
README) and the test suite run hops there. In a threaded server (runserver, gthread) hops run
without the timer; the gateway's own timeout remains the backstop.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HOP_DEADLINE_SECONDS = 2.0


class HopDeadlineExceeded(Exception):
    """The hop ran past its deadline."""


def _raise(signum, frame) -> None:
    raise HopDeadlineExceeded()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise HopDeadlineExceeded in the block once `seconds` have passed (main thread only)."""
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable or seconds <= 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
