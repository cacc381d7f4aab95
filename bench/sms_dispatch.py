"""Benchmark of the SMS pipeline: messages per second through real Celery workers to a local
fake gateway with every throttle on, and how fast an activation code gets out while a backlog
of reminders is queued.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/malipo_bench_sms \\
    REDIS_URL=redis://127.0.0.1:6379/12 CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/sms_dispatch.py --n 10000 --backlog 100000

Needs PostgreSQL, Redis and a broker of its own: it migrates the database, empties its SMS
tables and purges the broker's queues. Never point it at anything you care about. On a shared
machine give it a Redis server of its own (`redis-server --port 6391 --save ""`): another
stack's worker on the same broker database would take its tasks (queue names are fixed).

1. Throughput: N bills queued in bulk, handed to workers by the dispatcher, sent through the
   real Africa's Talking SDK to the fake (another process). The gateway's token bucket is set
   above what we can do, so the figure is our side's: messages per second from the commit of
   the queue to the last message taken by the gateway.
2. Latency under backlog: BACKLOG reminders queued, the gateway limited to --backlog-rate
   segments/s (so reminders keep its bucket full), the dispatcher run every 10 s like beat;
   then --codes activation codes are requested through accounts' activation service, one every
   --code-interval s. Latency: from the request to the code's arrival at the gateway.

Quiet hours are off (the bench may run at night; they are tested in tests/sms); the spend cap
and the burst guard are raised out of the way; recipient limits are on (distinct numbers).
Workers keep their database connections (DB_CONN_MAX_AGE=60), as a production worker should.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from loopback import free_port

ROOT = Path(__file__).resolve().parent.parent


def _settings_env(*, fake_url: str, rate: float) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "TEST_CACHE_PREFIX": "malipo-bench-sms",
        "DB_CONN_MAX_AGE": "60",
        "AFRICASTALKING_ENABLED": "true",
        "AFRICASTALKING_USERNAME": "bench",
        "AFRICASTALKING_API_KEY": "bench-key",
        "AFRICASTALKING_BASE_URL": fake_url,
        "SMS_ROUTES": "+254:africastalking",
        "SMS_ALLOWED_COUNTRIES": "KE",
        "SMS_GATEWAY_RATES": f"africastalking={rate}",
        "SMS_QUIET_HOURS": "",
        "SMS_DAILY_SPEND_CAPS": "*=1000000000",
        "SMS_OTP_PREFIX_FLAG": "1000000",
        "SMS_OTP_PREFIX_BLOCK": "1000000",
    }


def cpu_seconds(root: int) -> float:
    """User + system CPU time of process `root` and its descendants, from /proc."""
    ticks, parents = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


class Workers:
    """A real Celery worker (prefork) on both queues, like `make worker`."""

    def __init__(self, *, concurrency: int, env: dict[str, str]) -> None:
        self.concurrency, self.env = concurrency, env
        self.process: subprocess.Popen | None = None
        self.cpu_at_start = 0.0

    def cpu(self) -> float:
        """CPU seconds the worker spent since it was ready."""
        return cpu_seconds(self.process.pid) - self.cpu_at_start

    def __enter__(self) -> "Workers":
        from config.celery import app

        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,urgent",
            "-c", str(self.concurrency), "-O", "fair", "--without-heartbeat", "--without-gossip",
            "--without-mingle", "--loglevel", "WARNING", "--logfile", "var/bench-sms-worker.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=os.environ | self.env)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1.0):
            if time.monotonic() > deadline:
                raise SystemExit("the Celery worker did not start (see var/bench-sms-worker.log)")
        self.cpu_at_start = cpu_seconds(self.process.pid)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def _fake_sent(fake_url: str, since: int) -> list[dict]:
    return requests.get(f"{fake_url}/fake/sent", params={"since": since}, timeout=30).json()


def _reset() -> None:
    from django.core.management import call_command
    from django.db import connection

    from config.celery import app

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE sms_outboundmessage, sms_smscontact, accounts_smscode RESTART IDENTITY"
        )
    with app.connection_for_write() as conn:
        for queue in ("default", "urgent"):
            conn.default_channel.queue_purge(queue)


def _queue_bulk(n: int, *, kind: str, tag: str, first_phone: int) -> float:
    from django.db import transaction

    from sms.services import MessageSpec, message_queue_bulk

    specs = [
        MessageSpec(
            to=f"+2547{first_phone + i:08d}",
            body=f"Maji Safi: bill 2026-11 for account {100000011 + i}: KES 1,240.00 due "
            "15/12. Pay by paybill 123456 or *384*12#.",
            kind=kind,
            idempotency_key=f"bench:{tag}:{i}",
        )
        for i in range(n)
    ]
    with transaction.atomic():
        message_queue_bulk(messages=specs)
    return time.time()  # committed: the dispatch runs now


def throughput(args, fake_url: str, fake_pid: int) -> dict:
    from sms.models import MessageStatus, OutboundMessage

    _reset()
    before = len(_fake_sent(fake_url, 0))
    env = _settings_env(fake_url=fake_url, rate=1e6)
    with Workers(concurrency=args.workers, env=env) as workers:
        fake_cpu = cpu_seconds(fake_pid)
        committed = _queue_bulk(args.n, kind="bill", tag="throughput", first_phone=10_000_000)
        deadline = time.monotonic() + 3600
        while OutboundMessage.objects.filter(status=MessageStatus.SENT).count() < args.n:
            if time.monotonic() > deadline:
                raise SystemExit("throughput phase did not finish within an hour")
            time.sleep(0.5)
        worker_cpu = workers.cpu()
        fake_cpu = cpu_seconds(fake_pid) - fake_cpu
    sent = _fake_sent(fake_url, before)
    first, last = min(s["at"] for s in sent), max(s["at"] for s in sent)
    return {
        "messages": args.n,
        "taken_by_gateway": len(sent),
        "seconds": round(last - committed, 2),
        "first_at_gateway_after_s": round(first - committed, 2),
        "messages_per_second": round(args.n / (last - committed), 1),
        "worker_cpu_ms_per_message": round(worker_cpu * 1000 / args.n, 2),
        "fake_gateway_cpu_ms_per_message": round(fake_cpu * 1000 / args.n, 2),
        "messages_per_cpu_second_of_workers": round(args.n / worker_cpu, 1),
    }


def _beat(stop: threading.Event) -> None:
    from django.db import connection

    from sms.dispatch import outbox_dispatch

    while not stop.wait(10.0):
        outbox_dispatch()
    connection.close()


def backlog_latency(args, fake_url: str) -> dict:
    from django.db.models import Count

    from sms.models import OutboundMessage
    from sms.notifications import activation_code_send

    _reset()
    before = len(_fake_sent(fake_url, 0))
    env = _settings_env(fake_url=fake_url, rate=args.backlog_rate)
    with Workers(concurrency=args.workers, env=env):
        _queue_bulk(args.backlog, kind="reminder", tag="backlog", first_phone=20_000_000)
        stop = threading.Event()
        beat = threading.Thread(target=_beat, args=(stop,), daemon=True)
        beat.start()
        time.sleep(5)  # the backlog is flowing at the gateway's rate
        asked: dict[str, float] = {}
        for k in range(args.codes):
            phone = f"+2547{90_000_000 + k * 1000:08d}"
            asked[phone] = time.time()
            activation_code_send(phone=phone, ip=None)
            time.sleep(args.code_interval)
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while len(arrived) < len(asked) and time.monotonic() < deadline:
            time.sleep(0.5)
            for sent in _fake_sent(fake_url, before):
                if sent["to"] in asked:
                    arrived.setdefault(sent["to"], sent["at"])
        stop.set()
        beat.join(timeout=60)
        sent_all = _fake_sent(fake_url, before)
        statuses = dict(
            OutboundMessage.objects.filter(kind="reminder")
            .values_list("status")
            .annotate(n=Count("id"))
        )
    latencies = sorted(arrived[p] - asked[p] for p in arrived)
    window = max(s["at"] for s in sent_all) - min(s["at"] for s in sent_all)
    reminders = sum(1 for s in sent_all if s["to"] not in asked)
    return {
        "backlog": args.backlog,
        "gateway_rate_segments_per_second": args.backlog_rate,
        "reminders_sent_meanwhile": reminders,
        "reminder_rate_at_gateway": round(reminders / window, 1) if window else None,
        "reminders_by_status_after": statuses,
        "codes_requested": len(asked),
        "codes_arrived": len(arrived),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3)
        if latencies
        else None,
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
    }


def _terminate(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--backlog-rate", type=float, default=200.0)
    parser.add_argument("--codes", type=int, default=40)
    parser.add_argument("--code-interval", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} must be set (see the docstring)")

    port = free_port()
    fake_url = f"http://127.0.0.1:{port}"
    signal.signal(signal.SIGTERM, _terminate)  # clean up the fake and the worker on kill
    fake = subprocess.Popen(
        [sys.executable, "-m", "sms.gateways.fake", "--port", str(port)], cwd=ROOT
    )
    os.environ.update(_settings_env(fake_url=fake_url, rate=1e6))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    load_before = os.getloadavg()
    try:
        results = {"cpus": os.cpu_count(), "workers": args.workers}
        if not args.skip_throughput:
            results["throughput"] = throughput(args, fake_url, fake.pid)
        if args.backlog:
            results["code_under_backlog"] = backlog_latency(args, fake_url)
    finally:
        fake.terminate()
    results["load_average_before"] = [round(x, 2) for x in load_before]
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
