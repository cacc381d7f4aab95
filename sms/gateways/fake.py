"""A loopback HTTP server that answers like Africa's Talking and Twilio, so tests and the bench
drive the real SDKs over real HTTP (nothing leaves the machine).

    with FakeSmsServer() as fake:            # or: python -m sms.gateways.fake --port 8765
        fake.plan("africastalking", ("http", 503), "ok")   # next two answers, then "ok"
        ...                                  # AFRICASTALKING_BASE_URL / TWILIO_BASE_URL = fake.url
        fake.sent                            # what "reached the handset"

Plans, one per request, per gateway (default "ok"):
  "ok"                      the message is taken (AT 201 statusCode 101, Twilio 201 queued)
  ("http", status)          an HTTP error (AT: a plain body; Twilio: its JSON error)
  ("at_status", code, text) AT 201 with this per-recipient verdict, e.g. (406, "UserInBlacklist")
  ("twilio_error", status, code)  a Twilio API error with this error code
  ("hold", event)           wait (up to 60 s) until `event` is set (`holding` is set meanwhile),
                            then answer "ok" - unless the client went away while held (a
                            killed worker): then, like a gateway aborting the request, nothing
                            is taken
GET /fake/sent?since=N lists what was taken (for a bench running the fake in another process);
`connections` counts the TCP connections clients opened (HTTP/1.1 keeps them open).
"""

import argparse
import json
import select
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class FakeSend:
    gateway: str
    to: str
    text: str
    message_id: str
    at: float  # time.time() when the message was taken (just before the answer is written)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Clients keep their connection open (HTTP/1.1): without TCP_NODELAY the body, written
    # after the headers, would wait for the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: "_Server"

    def setup(self):
        super().setup()
        self.server.fake.connection_opened()

    def log_message(self, format, *args):  # quiet: tests and the bench read no access log
        return

    def _reply(self, status: int, payload) -> bool:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")  # exactly: the AT SDK needs it
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client went away (killed mid-send)
            self.close_connection = True
            return False
        return True

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/fake/sent":
            self._reply(404, {"error": "not found"})
            return
        since = int(parse_qs(url.query).get("since", ["0"])[0])
        self._reply(200, [asdict(s) for s in self.server.fake.sent[since:]])

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        path = urlparse(self.path).path
        if path == "/version1/messaging":
            self._africastalking(form)
        elif path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
            self._twilio(form, account_sid=path.split("/")[3])
        else:
            self._reply(404, {"error": "not found"})

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _plan(self, gateway: str):
        fake = self.server.fake
        fake.arrivals[gateway] += 1
        plan = fake.next_plan(gateway)
        if isinstance(plan, tuple) and plan[0] == "hold":
            fake.holding.set()
            plan[1].wait(timeout=60)
            return "gone" if self._client_gone() else "ok"
        return plan

    def _africastalking(self, form: dict) -> None:
        plan = self._plan("africastalking")
        if plan == "gone":
            self.close_connection = True
            return
        to, text = form.get("to", ""), form.get("message", "")
        if isinstance(plan, tuple) and plan[0] == "http":
            self._reply(plan[1], {"error": "The service is unavailable"})
            return
        if isinstance(plan, tuple) and plan[0] == "at_status":
            verdict = {"statusCode": plan[1], "status": plan[2], "number": to}
            verdict |= {"cost": "0", "messageId": "None"}
            self._reply(
                201, {"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [verdict]}}
            )
            return
        message_id = f"ATXid_{uuid.uuid4().hex}"
        verdict = {"statusCode": 101, "status": "Success", "number": to}
        verdict |= {"cost": "KES 0.8000", "messageId": message_id}
        payload = {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [verdict]}}
        # Recorded before the answer goes out (a client that has its answer finds it there),
        # and forgotten if the answer could not be written.
        taken = self.server.fake.record("africastalking", to, text, message_id)
        if not self._reply(201, payload):
            self.server.fake.forget(taken)

    def _twilio(self, form: dict, *, account_sid: str) -> None:
        plan = self._plan("twilio")
        if plan == "gone":
            self.close_connection = True
            return
        if isinstance(plan, tuple) and plan[0] in ("http", "twilio_error"):
            status, code = plan[1], (plan[2] if len(plan) > 2 else None)
            body = {"code": code, "message": "fake error", "more_info": "", "status": status}
            self._reply(status, body)
            return
        sid = f"SM{uuid.uuid4().hex}"
        payload = {
            "sid": sid,
            "account_sid": account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
        }
        taken = self.server.fake.record("twilio", form.get("To", ""), form.get("Body", ""), sid)
        if not self._reply(201, payload):
            self.server.fake.forget(taken)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeSmsServer"


class FakeSmsServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._plans: dict[str, deque] = {"africastalking": deque(), "twilio": deque()}
        self.arrivals = {"africastalking": 0, "twilio": 0}
        self.connections = 0  # TCP connections clients opened
        self.holding = threading.Event()
        self.sent: list[FakeSend] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def plan(self, gateway: str, *answers) -> None:
        with self._lock:
            self._plans[gateway].extend(answers)

    def next_plan(self, gateway: str):
        with self._lock:
            return self._plans[gateway].popleft() if self._plans[gateway] else "ok"

    def connection_opened(self) -> None:
        with self._lock:
            self.connections += 1

    def record(self, gateway: str, to: str, text: str, message_id: str) -> FakeSend:
        taken = FakeSend(gateway, to, text, message_id, time.time())
        with self._lock:
            self.sent.append(taken)
        return taken

    def forget(self, taken: FakeSend) -> None:
        with self._lock:
            self.sent.remove(taken)

    def start(self) -> "FakeSmsServer":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeSmsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    fake = FakeSmsServer(port=port)
    print(f"fake SMS gateways on {fake.url}", flush=True)
    fake._server.serve_forever()
