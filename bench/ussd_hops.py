"""Benchmark of USSD hops on PostgreSQL + Redis: in-process latency, HTTP throughput, a floor.

    .venv/bin/python bench/ussd_hops.py [--sessions 2000] [--seconds 10] [--workers 4]

Uses its own database (malipo_bench_ussd on the local PostgreSQL, created, migrated and seeded
with the demo data if needed, plus CONTACTS extra phones linked to the demo accounts) and its
own Redis keys (db 3, prefix malipo-bench-ussd). Sessions are realistic menu walks of the demo
customers (balance, last bill, statement, help, the pay and reading screens and back), sent
exactly as Africa's Talking sends them (form POST, cumulative text).

1. in-process: each hop through the served WSGI application in this process (webhook paths
   through the lean middleware, as config/wsgi.py routes them),
   one at a time: p50, p99, hops/s;
2. over HTTP: gunicorn (sync workers) started here on a free port, CONCURRENCY virtual gateways
   each walking its own phones, a new connection per hop as sync workers close each one (one
   client thread on non-blocking sockets, to leave the cores to the server): hops/s, p50, p99;
3. the floor (bench/ussd_floor.py: form parse, one Redis GET + SET, one indexed query), both
   ways, and our throughput as a fraction of it.
The machine is reported with its load average: other work on it moves every figure.
"""

import argparse
import io
import itertools
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

from loopback import free_port

ROOT = Path(__file__).resolve().parent.parent
DB_SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "malipo_bench_ussd"
ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings_test",
    "DATABASE_URL": f"{DB_SERVER}/{DB_NAME}",
    "REDIS_URL": "redis://127.0.0.1:6379/3",
    "TEST_CACHE_PREFIX": "malipo-bench-ussd",
    "DB_CONN_MAX_AGE": "600",  # persistent connections, as in production
    "SANDBOX_PAYMENTS_ENABLED": "true",  # the pay menus need a provider; nobody confirms
    "LOG_LEVEL": "WARNING",
    "CELERY_BROKER_URL": "",
}
USSD_URL, FLOOR_URL = "/ussd/africastalking/", "/ussd/bench-floor/"  # as bench/ussd_floor.py
FORM = "application/x-www-form-urlencoded"
CONTACTS = 60
# Menu walks of a caller with one account; each ends on a screen with nothing to resume.
WALKS = (
    ("1", "0", "2", "0", "5", "00", "7"),
    ("3", "2", "500", "0", "0", "0", "1"),
    ("4", "0", "5", "0", "6", "0", "1"),
    ("5", "00", "1", "00", "7"),
    ("2", "0", "3", "0", "7"),
)
APOLOGY = b"Sorry"


def _prepare() -> list[str]:
    """Create, migrate and seed the bench database; return the callers' phones."""
    import psycopg

    with psycopg.connect(f"{DB_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from billing.models import AccountContact, ServiceAccount

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())
    accounts = list(ServiceAccount.objects.filter(operator__slug="malipo").order_by("id"))
    phones = [account.owner.phone for account in accounts]
    for n in range(CONTACTS):
        phone = f"+2547130{n:05d}"
        AccountContact.objects.get_or_create(account=accounts[n % len(accounts)], phone=phone)
        phones.append(phone)
    cache.delete_pattern("*")  # this prefix's keys only: no session left from a former run
    return phones


def session_bodies(phone: str, walk: tuple[str, ...]) -> list[bytes]:
    form = {
        "sessionId": f"ATUid_{uuid.uuid4().hex}",
        "serviceCode": "*384*12#",
        "phoneNumber": phone,
        "networkCode": "63902",
    }
    return [urlencode({**form, "text": "*".join(walk[:n])}).encode() for n in range(len(walk) + 1)]


def _check(status: int, body: bytes) -> None:
    if status != 200 or not body.startswith((b"CON ", b"END ")) or APOLOGY in body:
        raise RuntimeError(f"bad hop: {status} {body[:120]!r}")


def in_process(phones: list[str], sessions: int, path: str) -> tuple[list[float], list[float]]:
    """(wall latencies, CPU times of this process) of each hop."""
    from bench.ussd_floor import application

    def hop(body: bytes) -> tuple[float, float]:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "CONTENT_TYPE": FORM,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_HOST": "127.0.0.1",
        }
        setup_testing_defaults(environ)
        status = []
        started, cpu = time.perf_counter(), time.thread_time()
        result = application(environ, lambda s, h, *e: status.append(int(s[:3])))
        payload = b"".join(result)
        result.close()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
        _check(status[0], payload)
        return elapsed, cpu

    measured = []
    pairs = itertools.cycle(itertools.product(phones, WALKS))
    for _ in range(sessions):
        phone, walk = next(pairs)
        measured += [hop(body) for body in session_bodies(phone, walk)]
    return [wall for wall, _ in measured], [cpu for _, cpu in measured]


def _post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def over_http(port: int, phones: list[str], path: str, seconds: float, concurrency: int):
    """(hops, seconds, latencies): `concurrency` gateways, each walking its own phones, one
    request at a time over a new connection (sync workers close each one). All gateways run
    in this one thread on non-blocking sockets: a light client leaves the cores to the server."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {FORM}\r\n"
    latencies: list[float] = []
    chooser = selectors.DefaultSelector()
    started = time.perf_counter()
    stop_at = started + seconds

    def walks(n: int):
        own = phones[n::concurrency] or phones
        for phone, walk in itertools.cycle(itertools.product(own, WALKS)):
            if time.perf_counter() >= stop_at:
                return
            yield from session_bodies(phone, walk)  # a walk is finished, never dropped

    def send(gateway: dict) -> None:
        body = next(gateway["bodies"], None)
        if body is None:
            return
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        request = f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        gateway.update(out=request.encode() + body, got=[], at=time.perf_counter())
        chooser.register(sock, selectors.EVENT_WRITE, gateway)

    for n in range(concurrency):
        send({"bodies": walks(n)})
    while chooser.get_map():
        for key, _ in chooser.select(timeout=15):
            sock, gateway = key.fileobj, key.data
            if gateway["out"]:
                sent = sock.send(gateway["out"])
                gateway["out"] = gateway["out"][sent:]
                if not gateway["out"]:
                    chooser.modify(sock, selectors.EVENT_READ, gateway)
                continue
            chunk = sock.recv(65536)
            if chunk:
                gateway["got"].append(chunk)
                continue
            chooser.unregister(sock)
            sock.close()
            latencies.append(time.perf_counter() - gateway["at"])
            status_line, _, payload = b"".join(gateway["got"]).partition(b"\r\n\r\n")
            _check(int(status_line.split(b" ", 2)[1]), payload)
            send(gateway)
    return len(latencies), time.perf_counter() - started, latencies


def gunicorn_start(workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "bench-ussd-gunicorn.log", "ab")  # noqa: SIM115 - kept by the child
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "bench.ussd_floor:application",
            f"--workers={workers}",
            "--worker-class=sync",
            f"--bind=127.0.0.1:{port}",
            "--preload",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, **ENV},
        stdout=log,
        stderr=log,
    )
    for _ in range(200):
        try:
            _post(port, FLOOR_URL, b"sessionId=ready")
            return server, port
        except OSError:
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError("gunicorn did not start: see var/bench-ussd-gunicorn.log")


def figures(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=2000, help="in-process sessions")
    parser.add_argument("--seconds", type=float, default=10.0, help="each HTTP run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent gateways")
    args = parser.parse_args()

    load_before = os.getloadavg()
    phones = _prepare()
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.2f} (1 min) before")

    in_process(phones, 200, USSD_URL)  # warm up: imports, connections
    in_process(phones, 200, FLOOR_URL)
    ours, ours_cpu = in_process(phones, args.sessions, USSD_URL)
    floor, floor_cpu = in_process(phones, args.sessions, FLOOR_URL)
    print(
        f"in-process, {len(ours)} hops: {figures(ours)}, {len(ours) / sum(ours):.0f} hops/s "
        "(targets: p50 < 1.5 ms, p99 < 5 ms)"
    )
    print(f"  CPU time of this process per hop: {figures(ours_cpu)}")
    print(
        f"  floor, {len(floor)} hops: {figures(floor)}, {len(floor) / sum(floor):.0f} hops/s; "
        f"CPU {figures(floor_cpu)}"
    )

    server, port = gunicorn_start(args.workers)
    try:
        over_http(port, phones, USSD_URL, 2, args.concurrency)  # warm up the workers
        hops, elapsed, latencies = over_http(port, phones, USSD_URL, args.seconds, args.concurrency)
        over_http(port, phones, FLOOR_URL, 2, args.concurrency)
        floor_hops, floor_elapsed, floor_latencies = over_http(
            port, phones, FLOOR_URL, args.seconds, args.concurrency
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a starved machine: do not lose the figures
            server.kill()
    rate, floor_rate = hops / elapsed, floor_hops / floor_elapsed
    print(
        f"HTTP, gunicorn {args.workers} sync workers, {args.concurrency} concurrent sessions: "
        f"{rate:.0f} hops/s, {figures(latencies)} (target: >= 1,200 hops/s)"
    )
    print(f"  floor: {floor_rate:.0f} hops/s, {figures(floor_latencies)}")
    print(f"  ours / floor: {rate / floor_rate:.0%} (target: >= 40%)")
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
