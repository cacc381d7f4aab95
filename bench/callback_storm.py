"""Callback storm: N M-Pesa STK success callbacks, each delivered 5 times nearly at once, in
random order, by 16 concurrent clients, at a gunicorn server on PostgreSQL.

    .venv/bin/python bench/callback_storm.py --n 10000 [--mode inline|worker|both]

It (re)creates the database `malipo_bench_cb` (never point it at one you care about),
migrates it, adds N pending push intents per mode (one account each), starts gunicorn on a
free port (`bench.floor_urls:application`: the product's URLs plus the floor view) and fires:

1. the floor: as many requests at a bare Django view doing one insert-on-conflict and one
   update in a transaction (bench/floor_urls.py);
2. the storm: every callback 5 times, shuffled within windows of 16 callbacks, so the copies
   of one callback race each other; in mode "inline" each callback is processed (credited)
   in its request, in mode "worker" the request stores it and a Celery worker (2 processes,
   started here, at niceness --worker-nice: 0 by default) credits it
   (settings.PAYMENTS_CALLBACKS_ASYNC). `--worker-start during` (default) starts the worker
   with the storm, so crediting takes CPU from the acknowledgements on these same cores;
   `--worker-start after` starts it once every delivery was acknowledged, which is what the
   server sees when the workers run on other hosts, as in production.

It prints acknowledged deliveries per second (every HTTP request is one delivery), distinct
callbacks per second, acknowledgement latency p50/p99, the rate as a fraction of the floor,
the time until every callback was credited, issue 4's targets (>= 1,000 acknowledged
deliveries/s, ack p99 < 50 ms) met or missed, and the exactly-once check: one payment, one
ledger credit, one receipt SMS per callback, every delivery stored. Receipt SMS go to a Redis
broker (db --redis-db, which must hold nothing but Celery's bindings; emptied afterwards; no
SMS worker runs), as in production; logs at WARNING. Needs PostgreSQL on 127.0.0.1:5432 and
Redis on 6379.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
from loopback import free_port, listening

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "malipo_bench_cb"
PG = "postgres://postgres@127.0.0.1:5432"
TOKEN = "bench-callback-token-0123456789"
FLOOR_PATH = f"/payments/floor/{TOKEN}/"  # a webhook path: the same lean middleware as ours
COPIES = 5
CLIENTS = 16
AMOUNT_KES = 100
# Issue 4's targets, besides exactly once (checked below).
TARGET_RATE = 1000  # acknowledged deliveries per second
TARGET_P99_MS = 50


def server_env(redis_db: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "DB_CONN_MAX_AGE": "600",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "LOG_LEVEL": "WARNING",
        "MPESA_ENABLED": "true",
        "MPESA_BASE_URL": "http://127.0.0.1:9",
        "MPESA_CONSUMER_KEY": "bench",
        "MPESA_CONSUMER_SECRET": "bench",
        "MPESA_SHORTCODE": "174379",
        "MPESA_PASSKEY": "bench",
        "MPESA_CALLBACK_TOKEN": TOKEN,
        "PYTHONPATH": str(ROOT),
    }


def database_create(env: dict[str, str]) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def data_create(n: int) -> None:
    """N accounts, each with one pending M-Pesa intent; the floor's tables and rows."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from bench.floor_urls import FLOOR_TABLES
    from billing.account_numbers import account_number_make
    from billing.models import Operator, ServiceAccount, Tariff
    from payments.models import Channel, IntentStatus, PaymentIntent

    operator = Operator.objects.create(name="Bench Water", slug="bench", currency="KES")
    tariff = Tariff.objects.create(operator=operator, code="B", name="B", utility="water")
    owner = User.objects.create_user("+254700555000", name="Bench Owner", is_active=True)
    accounts = ServiceAccount.objects.bulk_create(
        ServiceAccount(
            number=account_number_make(i),
            operator=operator,
            utility="water",
            owner=owner,
            holder_name="Bench",
            tariff=tariff,
        )
        for i in range(1, n + 1)
    )
    now = timezone.now()
    PaymentIntent.objects.bulk_create(
        PaymentIntent(
            account=account,
            provider="mpesa",
            phone=f"+2547{10_000_000 + i:08d}",
            currency="KES",
            amount_minor=AMOUNT_KES * 100,
            status=IntentStatus.PENDING,
            channel=Channel.USSD,
            idempotency_key=f"bench:{i}",
            provider_reference=f"ws_CO_BENCH{i:08d}",
            callback_key=f"ws_CO_BENCH{i:08d}",
            pushed_at=now,
            next_check_at=now + timedelta(hours=1),
        )
        for i, account in enumerate(accounts)
    )
    with connection.cursor() as cursor:
        for statement in FLOOR_TABLES:
            cursor.execute(statement)
        cursor.execute(
            "INSERT INTO bench_floor_item SELECT 'F' || g, false FROM generate_series(0, %s) g",
            [n - 1],
        )


def stk_body(i: int) -> bytes:
    return json.dumps(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": f"bench-{i}",
                    "CheckoutRequestID": f"ws_CO_BENCH{i:08d}",
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": AMOUNT_KES},
                            {"Name": "MpesaReceiptNumber", "Value": f"BNC{i:07d}"},
                            {"Name": "Balance"},
                            {"Name": "TransactionDate", "Value": 20260302102115},
                            {"Name": "PhoneNumber", "Value": 254710000000 + i},
                        ]
                    },
                }
            }
        }
    ).encode()


def deliveries(n: int, path_body) -> list[tuple[str, bytes]]:
    """Every callback COPIES times; the copies of a window of CLIENTS callbacks shuffled
    together, so the same callback is in flight on several connections at once."""
    rng = random.Random(42)
    out = []
    for start in range(0, n, CLIENTS):
        window = [path_body(i) for i in range(start, min(n, start + CLIENTS))] * COPIES
        rng.shuffle(window)
        out.extend(window)
    return out


async def _client(host, port, queue: asyncio.Queue, latencies: list[float], errors: list[str]):
    reader = writer = None
    while True:
        try:
            path, body = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        headers = head.decode("latin-1").lower()
        length = int(headers.split("content-length:")[1].split("\r\n")[0])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status = int(headers.split(" ", 2)[1])
        if status != 200:
            errors.append(f"{path} -> {status}")
        if "connection: close" in headers:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def fire(port: int, requests: list[tuple[str, bytes]]) -> tuple[float, list[float], list]:
    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_client("127.0.0.1", port, queue, latencies, errors) for _ in range(CLIENTS))
    )
    return time.perf_counter() - started, latencies, errors


def gunicorn_start(env, port: int, workers: int, threads: int) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "bench.floor_urls:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    if listening(port):
        return server
    server.terminate()
    raise SystemExit("gunicorn did not start")


def exactly_once() -> dict[str, int]:
    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:

        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        return {
            "payments": one("SELECT count(*) FROM billing_payment"),
            "ledger_credits": one(
                "SELECT count(*) FROM billing_journaltransaction WHERE kind = 'payment'"
            ),
            "receipt_sms": one("SELECT count(*) FROM sms_outboundmessage WHERE kind = 'receipt'"),
            "succeeded_intents": one(
                "SELECT count(*) FROM payments_paymentintent WHERE status = 'succeeded'"
            ),
            "deliveries_stored": one("SELECT count(*) FROM payments_callbackdelivery"),
            "duplicates": one(
                "SELECT count(*) FROM payments_callbackdelivery WHERE status = 'duplicate'"
            ),
            "double_credited_accounts": one(
                "SELECT count(*) FROM (SELECT account_id FROM billing_payment "
                "GROUP BY account_id HAVING count(*) > 1) d"
            ),
            "floor_items_done": one("SELECT count(*) FROM bench_floor_item WHERE done"),
        }


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def celery_start(env, nice: int) -> subprocess.Popen:
    """A worker for the callback tasks (queue "default"); receipt SMS wait in "urgent"."""
    command = ["nice", "-n", str(nice)] if nice else []
    command += [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "-Q", "default"]
    command += ["-c", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def pending_deliveries() -> int:
    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
        sql = "SELECT count(*) FROM payments_callbackdelivery WHERE status = 'received'"
        return conn.execute(sql).fetchone()[0]


def storm_run(env, args, mode: str, first: int, floor: bool) -> dict:
    """Serve, fire (the floor first when asked), wait until every delivery is processed."""
    port = free_port()
    env = {**env, "PAYMENTS_CALLBACKS_ASYNC": "true" if mode == "worker" else "false"}
    server = gunicorn_start(env, port, args.workers, args.threads)
    during = mode == "worker" and args.worker_start == "during"
    worker = celery_start(env, args.worker_nice) if during else None
    result: dict = {"mode": mode}
    try:
        # Warm up: every worker thread has loaded Django and opened its database connection.
        warm = [(FLOOR_PATH, b'{"key": "W%d"}' % i) for i in range(CLIENTS * 8)]
        asyncio.run(fire(port, warm))
        if floor:
            requests = deliveries(args.n, lambda i: (FLOOR_PATH, b'{"key": "F%d"}' % i))
            result["floor"] = asyncio.run(fire(port, requests))
        storm = deliveries(args.n, lambda i: (f"/payments/mpesa/stk/{TOKEN}/", stk_body(first + i)))
        started = time.perf_counter()
        result["storm"] = asyncio.run(fire(port, storm))
        if mode == "worker" and worker is None:
            worker = celery_start(env, args.worker_nice)
        while pending_deliveries():
            time.sleep(0.2)
        result["settled"] = time.perf_counter() - started
    finally:
        for process in (server, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    return result


def report(args, result: dict, floor_rate: float) -> None:
    elapsed, latencies, errors = result["storm"]
    rate = len(latencies) / elapsed
    print(
        f"storm ({result['mode']}):  {rate:6.0f} deliveries/s acknowledged "
        f"({args.n / elapsed:.0f} distinct callbacks/s)  ack p50 {pct(latencies, 50):.1f} ms  "
        f"p99 {pct(latencies, 99):.1f} ms  errors {len(errors)}  = {rate / floor_rate:.2f} of "
        f"the floor; all {args.n} credited after {result['settled']:.1f} s "
        f"({args.n / result['settled']:.0f} credits/s)"
    )
    p99 = pct(latencies, 99)
    verdict = "PASS" if rate >= TARGET_RATE and p99 < TARGET_P99_MS and not errors else "FAIL"
    print(
        f"  targets ({result['mode']}): >= {TARGET_RATE} deliveries/s acknowledged "
        f"({'met' if rate >= TARGET_RATE else 'missed'}), ack p99 < {TARGET_P99_MS} ms "
        f"({'met' if p99 < TARGET_P99_MS else 'missed'}): {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="distinct callbacks")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis db for the queues")
    parser.add_argument(
        "--mode",
        choices=("inline", "worker", "both"),
        default="both",
        help="process callbacks in the request, in a Celery worker, or measure both",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the Celery worker at this niceness (acknowledging before crediting)",
    )
    parser.add_argument(
        "--worker-start",
        choices=("during", "after"),
        default="during",
        help="start the crediting worker with the storm (sharing these CPUs) or once every "
        "delivery was acknowledged (as a worker on another host would leave them alone)",
    )
    args = parser.parse_args()
    modes = ["inline", "worker"] if args.mode == "both" else [args.mode]
    sys.path.insert(0, str(ROOT))
    env = server_env(args.redis_db)
    broker = redis.Redis(db=args.redis_db)
    if any(not key.startswith(b"_kombu.") for key in broker.scan_iter(count=100)):
        raise SystemExit(f"Redis db {args.redis_db} holds data; choose another --redis-db")
    os.environ.update(env)
    database_create(env)
    data_create(args.n * len(modes))
    try:
        results = [
            storm_run(env, args, mode, first=k * args.n, floor=k == 0)
            for k, mode in enumerate(modes)
        ]
    finally:
        broker.flushdb()
    floor_time, floor_lat, floor_errors = results[0]["floor"]
    floor_rate = len(floor_lat) / floor_time
    print(
        f"{args.n} distinct callbacks x {COPIES} deliveries = {args.n * COPIES} requests per "
        f"run, {CLIENTS} clients, gunicorn {args.workers} workers x {args.threads} threads, "
        f"{os.cpu_count()} CPUs, worker niceness {args.worker_nice} started "
        f"{args.worker_start} the storm, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"floor:            {floor_rate:6.0f} requests/s  p50 {pct(floor_lat, 50):.1f} ms  "
        f"p99 {pct(floor_lat, 99):.1f} ms  errors {len(floor_errors)}"
    )
    for result in results:
        report(args, result, floor_rate)
    total = args.n * len(modes)
    checks = exactly_once()
    print("exactly once:", json.dumps(checks))
    ok = (
        checks["payments"] == checks["ledger_credits"] == checks["receipt_sms"] == total
        and checks["succeeded_intents"] == total
        and checks["double_credited_accounts"] == 0
        and checks["deliveries_stored"] == total * COPIES
        and not any(result["storm"][2] for result in results)
    )
    print("exactly-once check:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
