"""Shared scaffolding for the operator simulators.

A simulator subclasses `SimulatorServer`, lists its `routes` and answers each request with a
`Reply`. The base class gives it:

- a real HTTP server (`ThreadingHTTPServer`) on 127.0.0.1, on an ephemeral port unless one is
  given: `.start()` / `.stop()` or `with Sim() as sim:`, then `.base_url`;
- a log of every request received: `.requests`, a list of `Recorded(method, path, headers,
  json)` (path with its query string; json is None when the body was not JSON);
- scripting: `.script("success" | "fail:<code>" | "never" | "twice" | "late:<seconds>" |
  "amount:<value>")` queues the outcome of the next push (first in, first out; a push nobody
  scripted succeeds); the subclass takes it with `.next_script()`;
- deferred work: `.schedule(action, delay=...)` runs `action()` in a background thread after
  `delay` seconds (default `callback_delay`; None waits for a flush); `.deliver_pending()` runs
  everything still waiting, now, in the caller's thread; `.wait_idle()` joins the threads;
- `.send(method, url, payload)` delivers a callback with `requests` and logs it in `.sent` as
  `Sent(method, url, json, status, reply)` (unreachable: status None; never raised);
- `Sim.main()`: a command line (`--host`, `--port`, `--callback-delay`, plus the subclass's
  `add_arguments`) that serves until interrupted.

A route is `(method, regex, handler name)`: the handler gets the `Request` and the regex's named
groups as keyword arguments and returns a `Reply`. An unknown route answers 404.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import requests

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0
_DEFAULT = object()


class Recorded(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list -> JSON, str -> text
    headers: dict[str, str] = field(default_factory=dict)


class Sent(NamedTuple):
    method: str
    url: str
    json: Any
    status: int | None  # None: the receiver could not be reached
    reply: Any = None  # the receiver's answer, parsed when it was JSON


@dataclass(frozen=True)
class Script:
    """One scripted push outcome, parsed from "success", "fail:1032", "late:30", ..."""

    kind: str  # success | fail | never | twice | late | amount
    code: str = ""  # fail:<code>
    seconds: float | None = None  # late:<seconds>
    amount: Decimal | None = None  # amount:<value>, what the payer actually pays

    KINDS = ("success", "fail", "never", "twice", "late", "amount")

    @classmethod
    def parse(cls, text: str) -> Script:
        kind, _, value = text.partition(":")
        if kind not in cls.KINDS or bool(value) != (kind in ("fail", "late", "amount")):
            raise ValueError(f"unknown simulator script {text!r}")
        if kind == "late":
            return cls(kind, seconds=float(value))
        if kind == "amount":
            return cls(kind, amount=Decimal(value))
        return cls(kind, code=value)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        self.server.simulator._dispatch(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator %s", format % args)


class SimulatorServer:
    name = "simulator"
    routes: list[tuple[str, str, str]] = []

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, callback_delay: float | None = 0.0
    ) -> None:
        self.host = host
        self.port = port
        self.callback_delay = callback_delay
        self.requests: list[Recorded] = []
        self.sent: list[Sent] = []
        self._scripts: list[Script] = []
        self._pending: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._compiled = [(m, re.compile(p), h) for m, p, h in self.routes]

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatorServer:
        self._stopping.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.simulator = self  # type: ignore[attr-defined]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()  # a short poll interval makes stop() quick
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.wait_idle()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting ---------------------------------------------------------------------------
    def script(self, outcome: str = "success") -> None:
        """Queue the outcome of the next push."""
        parsed = Script.parse(outcome)
        with self._lock:
            self._scripts.append(parsed)

    def next_script(self) -> Script:
        with self._lock:
            return self._scripts.pop(0) if self._scripts else Script("success")

    # --- deferred work -----------------------------------------------------------------------
    def schedule(self, action: Callable[[], None], *, delay: Any = _DEFAULT) -> None:
        """Run `action` after `delay` seconds in a thread (None: only on deliver_pending)."""
        delay = self.callback_delay if delay is _DEFAULT else delay
        with self._lock:
            self._pending.append(action)
        if delay is None:
            return
        thread = threading.Thread(target=self._run_later, args=(action, delay), daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _run_later(self, action: Callable[[], None], delay: float) -> None:
        if not self._stopping.wait(delay):
            self._run(action)

    def _run(self, action: Callable[[], None]) -> None:
        with self._lock:
            if action not in self._pending:
                return  # already run by a flush
            self._pending.remove(action)
        try:
            action()
        except Exception:
            logger.exception("%s: scheduled action failed", self.name)

    def deliver_pending(self) -> None:
        """Run every scheduled action now, including those they schedule in turn."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                action = self._pending[0]
            self._run(action)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Join the background threads (a `late:` action may outlast `timeout`)."""
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def send(
        self, method: str, url: str, payload: Any, *, headers: dict[str, str] | None = None
    ) -> Sent:
        """Deliver one callback; a receiver that cannot be reached is recorded, not raised."""
        status: int | None = None
        reply = None
        try:
            response = requests.request(
                method, url, json=payload, headers=headers, timeout=SEND_TIMEOUT
            )
            status = response.status_code
            reply = response.json()
        except (requests.RequestException, ValueError):
            pass  # unreachable (status None) or an answer that is not JSON (reply None)
        sent = Sent(method, url, payload, status, reply)
        with self._lock:
            self.sent.append(sent)
        return sent

    # --- HTTP --------------------------------------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        url = urlsplit(handler.path)
        headers = dict(handler.headers.items())
        request = Request(
            handler.command, url.path, dict(parse_qsl(url.query)), headers, parsed, body
        )
        with self._lock:
            self.requests.append(Recorded(handler.command, handler.path, headers, parsed))
        reply = self._route(request)
        if isinstance(reply.body, str):
            data, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            data, content_type = json.dumps(reply.body).encode(), "application/json"
        handler.send_response(reply.status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, request: Request) -> Reply:
        for method, pattern, name in self._compiled:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                try:
                    return getattr(self, name)(request, **match.groupdict())
                except Exception:
                    logger.exception("%s: handler %s failed", self.name, name)
                    return Reply(500, {"error": "simulator handler failed"})
        return Reply(404, {"error": f"no route for {request.method} {request.path}"})

    # --- command line ------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Subclasses add their own options; each becomes a constructor keyword."""

    @classmethod
    def main(cls, argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(description=f"Local fake {cls.name} server.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--callback-delay", type=float, default=3.0)
        cls.add_arguments(parser)
        simulator = cls(**vars(parser.parse_args(argv)))
        with simulator:
            print(f"{cls.name} simulator listening on {simulator.base_url}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
