"""Per-request cost of the M-Pesa STK callback endpoint, in-process, per path, on PostgreSQL.

    .venv/bin/python bench/callback_profile.py [--n 300] [--profile first|duplicate|...]

Builds its own database (`malipo_prof_cb`, dropped and recreated) with the storm's data, then
drives the product's WSGI handler directly (no HTTP server, one thread) and reports, per path,
the CPU time per request (thread time), the wall time, and the SQL statements it ran:

- first:        a callback's first delivery, credited in the request (inline mode)
- duplicate:    a resend of a callback already processed (the storm's common case)
- stored:       worker mode's first copy: stored and enqueued, not credited
- stored-dup:   worker mode's later copy of the same callback, before the worker ran
- task:         the worker crediting a stored delivery (callback_delivery_process)
- floor:        the bench's floor view (one insert-on-conflict + one update)

`--profile PATH` prints a pyinstrument profile of that path (pip install pyinstrument).
Celery messages go to Redis db --redis-db (must be empty; emptied afterwards).
"""

import argparse
import io
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.callback_storm as storm  # noqa: E402

storm.DB_NAME = "malipo_prof_cb"
PATH_STK = f"/payments/mpesa/stk/{storm.TOKEN}/"


def environ(path: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(application, path: str, body: bytes) -> None:
    status = []
    chunks = application(environ(path, body), lambda s, h, exc_info=None: status.append(s))
    b"".join(chunks)
    chunks.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"{path} -> {status[0]}")


class Measure:
    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.queries: list[int] = []
        self.kinds: Counter = Counter()

    def line(self, name: str) -> str:
        n = len(self.cpu)
        if not n:
            return f"{name:11s} -"
        per = sum(self.queries) / len(self.queries) if self.queries else 0
        kinds = ", ".join(f"{k} {v / len(self.queries):.1f}" for k, v in self.kinds.most_common())
        return (
            f"{name:11s} n={n:4d}  cpu {statistics.mean(self.cpu) * 1000:6.2f} ms "
            f"(median {statistics.median(self.cpu) * 1000:5.2f})  wall "
            f"{statistics.mean(self.wall) * 1000:6.2f} ms  SQL {per:4.1f} per request: {kinds}"
        )


def timed(measure: Measure, fn, count_queries: bool) -> None:
    from django.db import connection

    if count_queries:
        statements: list[str] = []

        def record(execute, sql, params, many, context):
            statements.append(sql.split(None, 1)[0].upper())
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            fn()
        measure.queries.append(len(statements))
        measure.kinds.update(statements)
        return
    cpu, wall = time.thread_time(), time.perf_counter()
    fn()
    measure.cpu.append(time.thread_time() - cpu)
    measure.wall.append(time.perf_counter() - wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="callbacks per path")
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--profile", default="", help="print a pyinstrument profile of a path")
    parser.add_argument("--reuse", action="store_true", help="skip creating the database")
    parser.add_argument("--cprofile", action="store_true", help="cProfile (CPU) for --profile")
    parser.add_argument("--sql", action="store_true", help="print one first delivery's SQL")
    args = parser.parse_args()
    env = storm.server_env(args.redis_db)
    os.environ.update(env)
    import redis

    broker = redis.Redis(db=args.redis_db)
    if any(not key.startswith(b"_kombu.") for key in broker.scan_iter(count=100)):
        raise SystemExit(f"Redis db {args.redis_db} holds data; choose another --redis-db")
    n = args.n
    # Per pass (timing, counting): inline callbacks, then worker-mode callbacks.
    if not args.reuse:
        storm.database_create(env)
        storm.data_create(4 * n)
    import django

    django.setup()
    from django.conf import settings

    from bench.floor_urls import application
    from payments.models import CallbackDelivery, CallbackStatus
    from payments.services.sweep import callback_delivery_process

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        if args.cprofile:
            import cProfile

            profiler = cProfile.Profile(time.thread_time)
            profiler.start, profiler.stop = profiler.enable, profiler.disable

    for i in range(20):  # warm up: imports, URL resolver, connection
        call(application, storm.FLOOR_PATH, b'{"key": "W%d"}' % i)

    if args.sql:
        from django.db import connection

        def show(execute, sql, params, many, context):
            print(" ".join(sql.split())[:220])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(show):
            call(application, PATH_STK, storm.stk_body(4 * n - 1))
        return
    results = {name: Measure() for name in storm_paths()}
    for count_queries, base in ((False, 0), (True, 2 * n)):

        def run(name, fn, count_queries=count_queries):
            if profiler is not None and name == args.profile and not count_queries:
                profiler.start()
                timed(results[name], fn, count_queries)
                profiler.stop()
            else:
                timed(results[name], fn, count_queries)

        settings.PAYMENTS_CALLBACKS_ASYNC = False
        for i in range(base, base + n):
            floor = b'{"key": "F%d"}' % i
            run("floor", lambda floor=floor: call(application, storm.FLOOR_PATH, floor))
            body = storm.stk_body(i)
            run("first", lambda body=body: call(application, PATH_STK, body))
            run("duplicate", lambda body=body: call(application, PATH_STK, body))
        settings.PAYMENTS_CALLBACKS_ASYNC = True
        for i in range(base + n, base + 2 * n):
            body = storm.stk_body(i)
            run("stored", lambda body=body: call(application, PATH_STK, body))
            run("stored-dup", lambda body=body: call(application, PATH_STK, body))
        waiting = list(
            CallbackDelivery.objects.filter(status=CallbackStatus.RECEIVED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for delivery_id in waiting:
            run("task", lambda d=delivery_id: callback_delivery_process(delivery_id=d))
    broker.flushdb()
    for name, measure in results.items():
        print(measure.line(name))
    if args.cprofile:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(45)
    elif profiler is not None:
        profiler.print(show_all=False, short_mode=False)


def storm_paths() -> tuple[str, ...]:
    return ("floor", "first", "duplicate", "stored", "stored-dup", "task")


if __name__ == "__main__":
    main()
