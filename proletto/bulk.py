"""Many rows at once for batch jobs: inserts with COPY on PostgreSQL (bulk_create elsewhere),
deletes in bounded batches.

On PostgreSQL, Django's bulk_create sends every column as one array parameter
(INSERT ... SELECT * FROM UNNEST(...)), and psycopg quotes each element of those arrays in
Python. For the weekly digest (a thousand rendered emails of several KB each per batch) that
quoting cost about as much as the insert itself. COPY streams the same rows in PostgreSQL's
text format, written by psycopg's C code, inside the caller's transaction.

Values must be what the database stores (str, numbers, dates, None; JSON fields take Python
values). Field defaults are not applied by rows_insert: the caller passes every column.
"""

from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.db.models import JSONField
from psycopg import sql


def rows_insert(model, fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert rows (values of `fields`, in that order) that cannot break a unique constraint.

    COPY cannot skip a conflicting row: a conflict fails the whole statement, so this is for
    rows such as children of parents the same transaction has just created.
    """
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    model_fields = [model._meta.get_field(name) for name in fields]
    with connection.cursor() as cursor:
        _copy(cursor, model._meta.db_table, model_fields, rows)


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


def _copy(cursor, table: str, model_fields: Sequence, rows: Iterable[Sequence]) -> None:
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(sql.Identifier(field.column) for field in model_fields),
    )
    # psycopg writes strings, numbers, dates and None as they are; JSON needs its field's
    # adapter. Preparing every value through its field cost more than the COPY itself.
    json_columns = [i for i, field in enumerate(model_fields) if isinstance(field, JSONField)]
    with cursor.copy(statement) as copy:
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
