"""Benchmark of the billing run: invoices per second and peak memory for N synthetic accounts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/malipo_bench \\
        .venv/bin/python bench/billing_run.py --n 10000 100000

Without DATABASE_URL it uses SQLite in a temporary file. Never point it at a database you care
about: it migrates it and adds an operator with N accounts, meters and readings per N.

For each N, one process creates the data (bulk inserts) and another bills it (with --workers
forked processes), so the peak resident memory reported (ru_maxrss of the billing process and
its workers, the largest of them) is the billing run's own.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
PERIOD = date(2026, 11, 1)
BATCH = 5000
PROCESSES = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    # The test settings: production settings with throw-away secrets, no DEBUG query log.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()


def setup(n: int) -> dict:
    """An operator with a tiered water tariff and n accounts, each with one period reading."""
    _django()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import Max

    from accounts.models import User
    from billing.account_numbers import account_number_make
    from billing.models import (
        Meter,
        MeterReading,
        Operator,
        ServiceAccount,
        Tariff,
        TariffTier,
        TariffVersion,
    )

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    slug = f"bench-{n}-{int(time.time())}"
    operator = Operator.objects.create(name=slug, slug=slug, currency="KES")
    tariff = Tariff.objects.create(operator=operator, code="W", name="Water", utility="water")
    version = TariffVersion.objects.create(
        tariff=tariff,
        effective_from=date(2026, 1, 1),
        pricing="tiered",
        standing_charge=Decimal(150),
        service_fee=Decimal(50),
        vat_rate=Decimal("0.16"),
    )
    TariffTier.objects.bulk_create(
        TariffTier(version=version, up_to=up_to, price=Decimal(price))
        for up_to, price in ((10, "1.50"), (30, "2.00"), (None, "2.50"))
    )
    owner, _ = User.objects.get_or_create(
        phone="+254799999999", defaults={"name": "Bench", "is_active": True}
    )
    zone = ZoneInfo(operator.timezone)
    installed = datetime(2025, 1, 1, tzinfo=zone)
    read_at = datetime(2026, 11, 25, 10, tzinfo=zone)
    rng = random.Random(n)
    for offset in range(0, n, BATCH):
        size = min(BATCH, n - offset)
        with transaction.atomic():
            # Numbers above every account's id, so they never clash with earlier runs'.
            first = (ServiceAccount.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
            numbers = range(first, first + size)
            accounts = ServiceAccount.objects.bulk_create(
                ServiceAccount(
                    number=account_number_make(number),
                    operator=operator,
                    utility="water",
                    owner=owner,
                    holder_name=f"Bench {number}",
                    tariff=tariff,
                )
                for number in numbers
            )
            meters = Meter.objects.bulk_create(
                Meter(account=account, serial=f"B{account.number}", installed_at=installed)
                for account in accounts
            )
            MeterReading.objects.bulk_create(
                MeterReading(
                    meter=meter,
                    index=usage,
                    read_at=read_at,
                    source="agent",
                    status="accepted",
                    consumption=usage,
                )
                for meter in meters
                for usage in [Decimal(rng.randint(0, 60_000)) / 1000]
            )
    with connection.cursor() as cursor:
        # Fresh statistics, as autovacuum would have them by billing day.
        cursor.execute("ANALYZE")
    return {"operator": slug, "setup_seconds": round(time.perf_counter() - started, 1)}


def bill(slug: str, workers: int) -> dict:
    _django()
    from billing.models import Operator
    from billing.services.billing_run import billing_run

    operator = Operator.objects.get(slug=slug)
    started = time.perf_counter()
    summary = billing_run(operator=operator, period=PERIOD, workers=workers)
    seconds = time.perf_counter() - started
    return {
        "bill_seconds": round(seconds, 1),
        "created": summary["created"],
        "invoices_per_second": round(summary["created"] / seconds),
        # The largest of this process and its (forked) workers, in MB (ru_maxrss is in KB).
        "peak_rss_mb": round(max(resource.getrusage(who).ru_maxrss for who in PROCESSES) / 1024),
    }


def _step(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench step {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--workers", type=int, help="billing processes (default: 2 on PostgreSQL, else 1)"
    )
    parser.add_argument("--step", choices=["setup", "bill"], help=argparse.SUPPRESS)
    parser.add_argument("--operator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "setup":
        print(json.dumps(setup(args.n[0])))
        return
    if args.step == "bill":
        print(json.dumps(bill(args.operator, args.workers)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/bench.sqlite3"
        engine = os.environ["DATABASE_URL"].split(":", 1)[0]
        if args.workers is None:
            args.workers = 2 if engine.startswith("postgres") else 1
        print(f"database: {engine}; cores: {os.cpu_count()}; workers: {args.workers}")
        print(f"{'N':>8} {'setup s':>8} {'bill s':>7} {'invoices/s':>11} {'peak RSS MB':>12}")
        for n in args.n:
            made = _step("--step", "setup", "--n", str(n))
            bill_args = ["--step", "bill", "--operator", made["operator"], "--workers"]
            bill_args.append(str(args.workers))
            ran = _step(*bill_args)
            line = (
                f"{n:>8} {made['setup_seconds']:>8} {ran['bill_seconds']:>7} "
                f"{ran['invoices_per_second']:>11} {ran['peak_rss_mb']:>12}"
            )
            print(line, flush=True)


if __name__ == "__main__":
    main()
