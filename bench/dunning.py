"""Benchmark of the daily dunning run: N overdue invoices reaching the late-penalty stage.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/malipo_bench_dunning \\
        .venv/bin/python bench/dunning.py --n 100000 1000000

Never point it at a database you care about: it migrates it and adds an operator with N
accounts and N invoices per N. The synthetic data is written by INSERT ... SELECT from
generate_series (PostgreSQL only): N accounts with their receivable ledger accounts, N issued
invoices due 7 days before the run date (one in five partly paid), and the events of the two
earlier stages (D-7, D+3) that the previous daily runs recorded. The run then records N
events, queues N SMS (the outbox) and charges N penalties (invoices, lines, journals,
entries). `--catch-up` leaves the earlier events out: the run records 3N events (two of them
superseded) for the same N messages and penalties.

The run's chunks go to `--workers` forked processes (default 2: one per core; PostgreSQL does
much of the work, and chunks only queue for the penalty number block at their end).
Each step runs in its own process, so the peak resident memory (ru_maxrss of the run's
process or of its largest worker) is the run's own;
the idempotent re-run (nothing left to do) is timed in a third process. The load average is
printed with each line: the figures mean little on a busy machine.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DATE = date(2026, 3, 22)
SELF, CHILDREN = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN
DUE = RUN_DATE - timedelta(days=7)


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    # The test settings: production settings with throw-away secrets, no DEBUG query log.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    # Tasks go to an in-memory broker nobody reads: sending the SMS is the workers' job (the
    # embedded default would send them in this process, inside the timing).
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()


SQL = [
    # accounts (numbers are digits, unique per operator; no check digit needed here)
    """INSERT INTO billing_serviceaccount (number, operator_id, utility, owner_id, holder_name,
            tariff_id, status, address, zone, created_at)
       SELECT (9 * 10^10 + g)::bigint::text, %(op)s, 'water', %(owner)s, 'Bench ' || g,
            %(tariff)s, 'active', '', 'Z' || (g %% 50), now()
         FROM generate_series(1, %(n)s) g""",
    """INSERT INTO billing_ledgeraccount (operator_id, kind, code, currency, service_account_id)
       SELECT %(op)s, 'receivable', 'receivable:' || a.number, 'KES', a.id
         FROM billing_serviceaccount a WHERE a.operator_id = %(op)s""",
    # invoices due 7 days before the run; amounts vary; one in five partly paid
    """INSERT INTO billing_invoice (operator_id, account_id, kind, number, status, period,
            issue_date, due_date, currency, total_minor, paid_minor, credited_minor,
            is_estimated, created_at)
       SELECT %(op)s, a.id, 'invoice', 'INV-' || a.id, CASE WHEN a.id %% 5 = 0
            THEN 'partially_paid' ELSE 'issued' END, %(period)s, %(issued)s, %(due)s, 'KES',
            50000 + (a.id %% 997) * 133, CASE WHEN a.id %% 5 = 0 THEN 20000 ELSE 0 END, 0,
            false, now()
         FROM billing_serviceaccount a WHERE a.operator_id = %(op)s""",
]
EARLIER_EVENTS = """
    INSERT INTO billing_dunningevent (invoice_id, stage_id, account_id, run_date, superseded,
                                      created_at)
    SELECT i.id, s.id, i.account_id, i.due_date + s.offset_days, false, now()
      FROM billing_invoice i JOIN billing_dunningstage s
        ON s.policy_id = %(policy)s AND s.offset_days IN (-7, 3)
     WHERE i.operator_id = %(op)s"""


def setup(n: int, catch_up: bool) -> dict:
    _django()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from billing.models import Operator, Tariff, TariffVersion
    from billing.services.dunning_policies import dunning_policy_default_ensure

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    slug = f"bench-dunning-{n}-{int(time.time())}"
    operator = Operator.objects.create(
        name="Maji Bench", slug=slug, currency="KES", paybill="400200", ussd_code="*483*1#"
    )
    tariff = Tariff.objects.create(operator=operator, code="W", name="Water", utility="water")
    TariffVersion.objects.create(
        tariff=tariff,
        effective_from=date(2026, 1, 1),
        pricing="flat",
        unit_price=Decimal(100),
        penalty_percent=Decimal(5),
    )
    owner, _ = User.objects.get_or_create(
        phone="+254799999999", defaults={"name": "Bench", "is_active": True}
    )
    policy = dunning_policy_default_ensure(operator=operator)
    params = {
        "op": operator.pk,
        "owner": owner.pk,
        "tariff": tariff.pk,
        "n": n,
        "period": date(2026, 2, 1),
        "issued": DUE - timedelta(days=14),
        "due": DUE,
        "policy": policy.pk,
    }
    with connection.cursor() as cursor:
        for sql in SQL + ([] if catch_up else [EARLIER_EVENTS]):
            cursor.execute(sql, params)
        cursor.execute("ANALYZE")
    return {"operator": slug, "setup_seconds": round(time.perf_counter() - started, 1)}


def run(slug: str, chunk_size: int, workers: int) -> dict:
    _django()
    from billing.models import Operator
    from billing.services.dunning import dunning_run

    operator = Operator.objects.get(slug=slug)
    started = time.perf_counter()
    summary = dunning_run(
        operator=operator, on_date=RUN_DATE, chunk_size=chunk_size, workers=workers
    )
    peak = max(resource.getrusage(who).ru_maxrss for who in (SELF, CHILDREN))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "totals": summary["totals"],
        "peak_rss_mb": round(peak / 1024),
    }


def _step(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench step {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10000])
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="processes running chunks")
    parser.add_argument("--catch-up", action="store_true", help="no earlier stage events")
    parser.add_argument("--step", choices=["setup", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--operator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "setup":
        print(json.dumps(setup(args.n[0], args.catch_up)))
        return
    if args.step == "run":
        print(json.dumps(run(args.operator, args.chunk_size, args.workers)))
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/dunning.py needs DATABASE_URL=postgres://... (a database to throw away)")
    print(
        f"cores: {os.cpu_count()}; chunk size: {args.chunk_size}; workers: {args.workers}; "
        f"catch-up: {args.catch_up}"
    )
    header = f"{'N':>8} {'setup s':>8} {'run s':>6} {'events':>8} {'SMS':>8} {'penalties':>9}"
    print(f"{header} {'peak RSS MB':>11} {'re-run s':>8} {'re-run RSS':>10}  load 1/5/15 min")
    for n in args.n:
        made = _step("--step", "setup", "--n", str(n), *(["--catch-up"] if args.catch_up else []))
        load_before = _load()
        step = ["--step", "run", "--operator", made["operator"], "--chunk-size"]
        step += [str(args.chunk_size), "--workers", str(args.workers)]
        first = _step(*step)
        again = _step(*step)
        totals = first["totals"]
        print(
            f"{n:>8} {made['setup_seconds']:>8} {first['seconds']:>6} {totals['events']:>8} "
            f"{totals['messages']:>8} {totals['penalties']:>9} {first['peak_rss_mb']:>11} "
            f"{again['seconds']:>8} {again['peak_rss_mb']:>10}  {load_before} -> {_load()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
