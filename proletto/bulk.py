"""Many rows at once for batch jobs: inserts with COPY on PostgreSQL (bulk_create elsewhere),
deletes in bounded batches.

On PostgreSQL, Django's bulk_create sends every column as one array parameter
(INSERT ... SELECT * FROM UNNEST(...)), and psycopg quotes each element of those arrays in
Python. For the weekly digest (a thousand rendered emails of several KB each per batch) that
quoting cost about as much as the insert itself. COPY streams the same rows in PostgreSQL's
text format, written by psycopg's C code, inside the caller's transaction.

Values must be what the database stores (str, numbers, dates, None; JSON fields take Python
values, or JSON text with json_text=True). Field defaults are not applied: the caller passes
every column that has no database default or NULL.
"""

import json
import numbers
from collections.abc import Iterable, Sequence

from django.db import DataError, connection, transaction
from django.db.models import JSONField
from psycopg import postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format


def rows_insert(
    model, fields: Sequence[str], rows: Iterable[Sequence], *, json_text: bool = False
) -> None:
    """Insert rows (values of `fields`, in that order) that cannot break a unique constraint.

    COPY cannot skip a conflicting row: a conflict fails the whole statement, so this is for
    rows such as children of parents the same transaction has just created. json_text: the
    values of JSON fields are already JSON text (json.dumps), written as they are.
    """
    if connection.vendor != "postgresql":
        _bulk_create(model, fields, rows, json_text=json_text)
        return
    model_fields = [model._meta.get_field(name) for name in fields]
    with connection.cursor() as cursor:
        _copy(cursor, model._meta.db_table, model_fields, rows, json_text=json_text)


def rows_insert_ignoring_conflicts(model, fields: Sequence[str], rows: Sequence[Sequence]) -> set:
    """Insert rows (values of `fields`, the primary key among them) leaving out any that would
    break a unique constraint; returns the primary keys of the rows inserted.

    For small rows whose key another writer may hold (a run racing another for the same
    user and week). On PostgreSQL one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
    NOTHING: conflicts are decided by the database with the same locking as a plain INSERT,
    and no temporary table is created and dropped for it.
    """
    if not rows:
        return set()
    meta = model._meta
    pk_index = list(fields).index(meta.pk.name)
    if connection.vendor != "postgresql":
        _bulk_create(model, fields, rows, ignore_conflicts=True)
        pks = [row[pk_index] for row in rows]
        inserted = set()
        for start in range(0, len(pks), 500):
            inserted |= set(
                model.objects.filter(pk__in=pks[start : start + 500]).values_list("pk", flat=True)
            )
        return inserted
    model_fields = [meta.get_field(name) for name in fields]
    columns = sql.SQL(", ").join(sql.Identifier(field.column) for field in model_fields)
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::{}[]").format(sql.SQL(field.cast_db_type(connection)))
        for field in model_fields
    )
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT DO NOTHING RETURNING {pk}"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=columns,
        arrays=arrays,
        pk=sql.Identifier(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])
        return {pk for (pk,) in cursor.fetchall()}


def ids_reserve(model, count: int) -> list[int]:
    """`count` primary keys of `model` no row has, for rows the caller inserts with them.

    For batch writers that need a row's id before writing it (a signed link carries it).
    PostgreSQL: taken from the table's sequence, as INSERTs take them, never given twice.
    SQLite: the keys after the highest ever used, safe only while this transaction holds the
    write lock (the settings' IMMEDIATE transactions take it at BEGIN): call it inside
    transaction.atomic() and insert the rows in that same transaction.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, model._meta.pk.column, count],
            )
            return [pk for (pk,) in cursor.fetchall()]
        if not connection.in_atomic_block:
            raise RuntimeError("ids_reserve on SQLite needs the caller's write transaction")
        # AUTOINCREMENT tables record the highest key ever used in sqlite_sequence, so a
        # deleted row's key (which old signed links may still carry) is not given again.
        cursor.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"coalesce((SELECT max({connection.ops.quote_name(model._meta.pk.column)}) "
            f"FROM {connection.ops.quote_name(table)}), 0))",
            [table],
        )
        (highest,) = cursor.fetchone()
    return list(range(highest + 1, highest + 1 + count))


def _bulk_create(model, fields, rows, *, json_text=False, ignore_conflicts=False) -> None:
    json_fields = {name for name in fields if isinstance(model._meta.get_field(name), JSONField)}
    objs = []
    for row in rows:
        values = dict(zip(fields, row, strict=True))
        if json_text:
            for name in json_fields:
                values[name] = json.loads(values[name])
        objs.append(model(**values))
    model.objects.bulk_create(objs, batch_size=500, ignore_conflicts=ignore_conflicts)


def objs_insert_ignoring_conflicts(objs: Sequence, *, key: str) -> dict | None:
    """Insert model instances, leaving out any that would break a unique constraint (like
    bulk_create(ignore_conflicts=True)); returns {value of `key`: id} of the rows inserted,
    or None where the database cannot say (not PostgreSQL): look them up then.

    On PostgreSQL the rows are COPied into a temporary table, then moved with one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING: conflicts are decided by the
    database with the same locking as a plain INSERT, so concurrent writers stay safe.
    """
    if not objs:
        return {}
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, ignore_conflicts=True, batch_size=500)
        return None
    meta = model._meta
    model_fields = [field for field in meta.concrete_fields if not field.primary_key]
    # pre_save as bulk_create does: it fills auto_now / auto_now_add dates.
    rows = ([field.pre_save(obj, add=True) for field in model_fields] for obj in objs)
    columns = sql.SQL(", ").join(sql.Identifier(field.column) for field in model_fields)
    table, staging = sql.Identifier(meta.db_table), sql.Identifier(f"{meta.db_table}_staging")
    # No savepoint of its own (two more queries per call): an error here fails the caller's
    # whole transaction, which is what the batch senders want anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
                "SELECT {columns} FROM {table} WITH NO DATA"
            ).format(staging=staging, columns=columns, table=table)
        )
        _copy(cursor, f"{meta.db_table}_staging", model_fields, rows)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
                "ON CONFLICT DO NOTHING RETURNING {key}, {pk}"
            ).format(
                table=table,
                columns=columns,
                staging=staging,
                key=sql.Identifier(meta.get_field(key).column),
                pk=sql.Identifier(meta.pk.column),
            )
        )
        inserted = dict(cursor.fetchall())
        # Dropped now rather than at commit, so a second call in the same transaction works.
        cursor.execute(sql.SQL("DROP TABLE {staging}").format(staging=staging))
    return inserted


# psycopg's binary dumper of each column type COPY may write in binary (a value goes as it
# is, with no text escaping); a character column of any length is written as text.
_BINARY_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "double precision": "float8",
    "boolean": "bool",
    "text": "text",
    "varchar": "text",
    "timestamp with time zone": "timestamptz",
    "date": "date",
    "jsonb": "jsonb",
}


# psycopg's binary integer dumpers keep only the low bytes of a value too large for the
# column (40,000 into a smallint is written as -25,536), where the text format and an INSERT
# are refused by the server: the binary path checks the range itself.
_INTEGER_RANGES = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}


def _range_checked(rows: Iterable[Sequence], types: list, model_fields: Sequence):
    """The rows, each integer and boolean checked as the server checks the text format: the
    binary dumpers would store 40,000 in a smallint as -25,536, or "false" in a boolean as
    true. A value refused raises a one-line DataError naming its column."""
    integers = [
        (i, *_INTEGER_RANGES[kind], model_fields[i].column, kind)
        for i, kind in enumerate(types)
        if kind in _INTEGER_RANGES
    ]
    booleans = [(i, model_fields[i].column) for i, kind in enumerate(types) if kind == "bool"]
    for row in rows:
        for i, low, high, column, kind in integers:
            value = row[i]
            if type(value) is not int:
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise DataError(f"{column}: {value!r} is not an integer")
            if not low <= value <= high:
                raise DataError(f"{column}: value {value} out of range for {kind}")
        for i, column in booleans:
            value = row[i]
            if value is not None and type(value) is not bool:
                raise DataError(f"{column}: {value!r} is not a boolean")
        yield row


class _JsonTextBinaryDumper(Dumper):
    """jsonb in COPY's binary format from JSON text: the format's version byte, then the text."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj):
        return b"\x01" + obj.encode()


def _copy(
    cursor, table: str, model_fields: Sequence, rows: Iterable[Sequence], *, json_text=False
) -> None:
    # psycopg writes strings, numbers, dates and None as they are; JSON needs its field's
    # adapter. Preparing every value through its field cost more than the COPY itself.
    json_columns = [
        i for i, field in enumerate(model_fields) if isinstance(field, JSONField) and not json_text
    ]
    # In COPY's binary format a long text (a rendered email) is sent as it is, where the
    # text format escapes it byte by byte: a fifth of the CPU for the digest's emails. Used
    # when every column has a binary dumper and JSON comes as text.
    types = [
        _BINARY_TYPES.get(field.cast_db_type(connection).split("(")[0]) for field in model_fields
    ]
    binary = not json_columns and None not in types
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN{binary}").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(field.column) for field in model_fields),
        binary=sql.SQL(" (FORMAT BINARY)" if binary else ""),
    )
    # psycopg's errors as Django's (DataError, IntegrityError), as for any other statement.
    with connection.wrap_database_errors, cursor.copy(statement) as copy:
        if binary:
            if "jsonb" in types:
                # This cursor's own adapters: JSON elsewhere is dumped as usual.
                cursor.adapters.register_dumper(None, _JsonTextBinaryDumper)
            copy.set_types(types)
            rows = _range_checked(rows, types, model_fields)
        for row in rows:
            if json_columns:
                row = list(row)
                for i in json_columns:
                    row[i] = model_fields[i].get_db_prep_save(row[i], connection)
            copy.write_row(row)


def delete_in_batches(queryset, batch_size: int) -> int:
    """Delete what `queryset` selects, `batch_size` rows per transaction; how many went."""
    total = 0
    for pks in _pk_batches(queryset, batch_size):
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=pks).delete()
        total += len(pks)
    return total


def update_in_batches(queryset, batch_size: int, **values) -> int:
    """Set `values` on what `queryset` selects, `batch_size` rows per statement. The values
    must take a row out of `queryset`, or it is selected again."""
    return sum(
        queryset.model.objects.filter(pk__in=pks).update(**values)
        for pks in _pk_batches(queryset, batch_size)
    )


def _pk_batches(queryset, batch_size: int):
    # Working by a bounded list of primary keys keeps each statement (and its locks) short.
    while True:
        pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return
        yield pks
