"""Bulk writes for the billing run, cheaper than bulk_create at a thousand rows a statement.

The billing run writes about ten rows per invoice (the invoice, its lines, ledger entries).
Building a model instance per row and a multi-row INSERT that PostgreSQL must parse cost more
than storing the rows (see bench/billing_run.py); on PostgreSQL these helpers use COPY, and
elsewhere fall back to executemany or bulk_create. Constraints and triggers apply as usual.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from django.db.models import Model


def objects_insert(model: type[Model], objects: list[Model]) -> None:
    """Save new model instances in bulk and set their ids.

    On PostgreSQL the ids are taken from the table's sequence in one query and the rows are
    written by COPY (a multi-row INSERT of a thousand invoices costs more to parse than to
    store); elsewhere this is bulk_create.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects)
        return
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        for instance, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            instance.pk = pk
    fields = [field.attname for field in meta.concrete_fields]
    rows_insert(model, fields, ([getattr(obj, name) for name in fields] for obj in objects))
    for instance in objects:
        instance._state.adding = False


def rows_insert(model: type[Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """INSERT plain rows, without building a model instance per row.

    COPY on PostgreSQL, executemany elsewhere.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - names from _meta
            cursor.executemany(sql, list(rows))


@contextmanager
def array_cursor() -> Iterator:
    """PostgreSQL: a cursor of the current connection (and transaction) that binds parameters
    on the server. Django's cursors quote every value into the SQL text, which for statements
    fed by arrays of thousands of values (INSERT ... SELECT FROM unnest, = ANY) costs more
    than the statement itself. Database errors come out as Django's (IntegrityError...).
    Elsewhere, Django's cursor."""
    import psycopg

    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield _Unprepared(cursor)


class _Unprepared:
    """Never a prepared statement: psycopg prepares a query run five times on a connection,
    and PostgreSQL may then settle on a generic plan, which for arrays of unknown length is
    far worse (a daily run executes the same statements hundreds of times)."""

    def __init__(self, cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params=None) -> None:
        self._cursor.execute(sql, params, prepare=False)

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()


def id_filter(column: str, ids: list[int]) -> tuple[str, list]:
    """`column` is one of `ids`: `= ANY(%s)` with one array on PostgreSQL (for array_cursor),
    an IN list elsewhere. (SQL, params)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)
