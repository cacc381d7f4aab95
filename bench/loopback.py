"""Loopback helpers shared by the bench scripts (run as `python bench/<script>.py`, which puts
this folder on the import path)."""

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int, *, seconds: float = 30.0) -> bool:
    """Wait until something accepts connections on 127.0.0.1:`port` (False after `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
