"""Where a dunning run's time goes: per statement, the PostgreSQL backend's CPU and the wall
time, and the run's own Python CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/malipo_bench_dunning \\
        .venv/bin/python bench/dunning_profile.py [--n 100000]

Adds an operator with N overdue invoices exactly as bench/dunning.py does (same database, never
one you care about), then runs the dunning in this process, in one worker, so that every
statement goes through one database connection. The backend's CPU is read from
/proc/<backend pid>/stat before and after each statement and each commit, so PostgreSQL must
run on this machine. Statements are grouped by their first words; COMMIT is where
PostgreSQL checks the deferred foreign keys of everything the chunk wrote.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")


class BackendClock:
    """CPU seconds used so far by the PostgreSQL backend serving `pid`."""

    def __init__(self, pid: int) -> None:
        self.path = f"/proc/{pid}/stat"

    def __call__(self) -> float:
        with open(self.path) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _label(sql: str) -> str:
    words = " ".join(str(sql).split())
    return words[:80]


def traced(clock: BackendClock, table: dict):
    """Wrap psycopg's execute and commit so that each call adds its wall and backend CPU time
    to table[label] = [calls, wall, backend]."""
    import psycopg

    def measure(label: str, call, *args, **kwargs):
        wall, cpu = time.perf_counter(), clock()
        try:
            return call(*args, **kwargs)
        finally:
            row = table[label]
            row[0] += 1
            row[1] += time.perf_counter() - wall
            row[2] += clock() - cpu

    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def cursor_execute(self, query, *args, **kwargs):
        return measure(_label(query), execute, self, query, *args, **kwargs)

    def connection_commit(self):
        return measure("COMMIT", commit, self)

    psycopg.Cursor.execute = cursor_execute
    psycopg.Connection.commit = connection_commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--top", type=int, default=12, help="statements shown")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("needs DATABASE_URL=postgres://... (a database to throw away, on this machine)")
    step = [sys.executable, str(BENCH / "dunning.py"), "--step", "setup", "--n", str(args.n)]
    done = subprocess.run(step, check=True, capture_output=True, text=True)
    made = json.loads(done.stdout.strip().splitlines()[-1])

    sys.path.insert(0, str(BENCH))
    import dunning as bench

    bench._django()
    from django.db import connection

    from billing.models import Operator
    from billing.services.dunning import dunning_run

    operator = Operator.objects.get(slug=made["operator"])
    clock = BackendClock(connection.connection.info.backend_pid)
    table = defaultdict(lambda: [0, 0.0, 0.0])
    traced(clock, table)
    own = resource.getrusage(resource.RUSAGE_SELF)
    backend, wall = clock(), time.perf_counter()
    summary = dunning_run(operator=operator, on_date=bench.RUN_DATE, workers=1)
    wall, backend = time.perf_counter() - wall, clock() - backend
    done = resource.getrusage(resource.RUSAGE_SELF)
    python = done.ru_utime + done.ru_stime - own.ru_utime - own.ru_stime
    n = max(summary["invoices"], 1)
    print(f"{summary['invoices']} invoices, {summary['totals']}")
    print(f"wall {wall:.2f} s")
    print(f"PostgreSQL backend CPU {backend:.2f} s, {backend / n * 1e6:.0f} µs per invoice")
    print(f"this process's CPU {python:.2f} s, {python / n * 1e6:.0f} µs per invoice")
    print(f"{'backend s':>9} {'µs/inv':>6} {'wall s':>7} {'calls':>6}  statement")
    rows = sorted(table.items(), key=lambda item: -item[1][2])
    for label, (calls, spent, cpu) in rows[: args.top]:
        print(f"{cpu:>9.2f} {cpu / n * 1e6:>6.0f} {spent:>7.2f} {calls:>6}  {label}")


if __name__ == "__main__":
    main()
