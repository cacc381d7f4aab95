"""Read queries compiled to SQL once per process and database, then run with new values.

On the USSD hops, compiling a queryset through the ORM costs several times the CPU of running
it. A `CompiledQuery` builds its queryset with sentinel values (never real ones) standing for
the values of a call, compiles it once per database connection alias and vendor (and variant,
such as a LIMIT Django writes into the SQL), remembers where each sentinel landed among the
parameters, and on a call runs that SQL with the call's values bound as parameters (never
formatted into the SQL). Rows come back through the same converters the ORM applies (Decimal
and datetime columns on SQLite, integer sums on PostgreSQL), so they equal the ORM's.

A sentinel must reach the database unchanged (ints, strings), or through the model field given
with it (`Slot(sentinel, field)`: datetimes); compiling fails loudly when one is missing from
the parameters, e.g. because a lookup rewrote it. The ORM's converters are taken from the
connection the query was compiled on (one per alias and vendor): they depend on the backend and
the settings, not on the thread's connection. A value that changes the SQL itself (None,
a LIMIT) is a variant: `build` receives it, and each variant is compiled once.
"""

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.db import connections
from django.db.models import Field, QuerySet

__all__ = ["CompiledQuery", "Slot"]


@dataclass(frozen=True)
class Slot:
    """A sentinel standing for a value, with the model field that adapts it for the database
    (None: the value is bound as it is)."""

    sentinel: object
    field: Field | None = None

    def adapt(self, value, connection):
        if self.field is None:
            return value
        return self.field.get_db_prep_value(value, connection, prepared=False)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple  # the fixed parameters, a Slot's name where a value goes
    slots: frozenset  # the names among params
    names: tuple[str, ...]  # of the columns, for values() querysets
    col_count: int  # columns the ORM returns (compilers may select ordering columns after them)
    compiler: object
    converters: dict


def _same(param, sentinel) -> bool:
    return type(param) is type(sentinel) and param == sentinel


class CompiledQuery:
    """`build(*variant, **sentinels)` returns the queryset; `slots` names its sentinels."""

    def __init__(self, build: Callable[..., QuerySet], **slots: Slot):
        self._build = build
        self._slots = slots
        self._compiled: dict[tuple, _Compiled] = {}

    def _compile(self, connection, variant: tuple) -> _Compiled:
        queryset = self._build(*variant, **{n: s.sentinel for n, s in self._slots.items()})
        query = queryset.query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        adapted = {
            name: slot.adapt(slot.sentinel, connection) for name, slot in self._slots.items()
        }
        placed = []
        for param in params:
            name = next((n for n, s in adapted.items() if _same(param, s)), None)
            placed.append(param if name is None else _SlotName(name))
        found = {p for p in placed if isinstance(p, _SlotName)}
        missing = set(self._slots) - found
        if missing:
            raise ValueError(f"sentinels not among the compiled parameters: {sorted(missing)}")
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        return _Compiled(
            sql=sql,
            params=tuple(placed),
            slots=frozenset(found),
            names=names,
            col_count=compiler.col_count,
            compiler=compiler,
            converters=compiler.get_converters(fields),
        )

    def compiled(self, *variant: Hashable, using: str = "default") -> _Compiled:
        connection = connections[using]
        key = (using, connection.vendor, variant)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(connection, variant)
        return compiled

    def rows(self, *variant: Hashable, using: str = "default", **values) -> list[tuple]:
        """The rows (tuples, as values_list() gives them) for these values of the sentinels."""
        if values.keys() != self._slots.keys():
            raise TypeError(f"values needed for {sorted(self._slots)}, got {sorted(values)}")
        compiled = self.compiled(*variant, using=using)
        connection = connections[using]
        bound = {name: self._slots[name].adapt(value, connection) for name, value in values.items()}
        params = [bound[p] if isinstance(p, _SlotName) else p for p in compiled.params]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if len(rows) and len(rows[0]) != compiled.col_count:
            rows = [row[: compiled.col_count] for row in rows]
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [tuple(row) for row in rows]

    def dicts(self, *variant: Hashable, using: str = "default", **values) -> list[dict]:
        """The rows as dicts, as values() gives them."""
        names = self.compiled(*variant, using=using).names
        return [
            dict(zip(names, row, strict=True)) for row in self.rows(*variant, using=using, **values)
        ]


class _SlotName(str):
    """The name of a slot in a compiled query's parameters (not a fixed string parameter)."""

    __slots__ = ()
