"""Writing a batch of credit resets: one INSERT of ledger rows and one UPDATE of
subscriptions, whatever the batch's size (raw SQL; billing/services/credits.py decides what
to write).

bulk_create()/bulk_update() would do the same in SQL, but bulk_update() builds a CASE
expression per row and field in Python, which costs more than the database's work.
"""

import datetime as dt

from django.db import connection

from billing.models import CreditLedgerEntry, Subscription


def resets_write(entries, updates, *, now, source) -> None:
    """entries: (subscription id, amount, balance after, period start, missed periods);
    updates: (subscription id, balance, credits period start, last reset at, next reset at)."""
    if connection.vendor == "postgresql":
        _resets_write_postgresql(entries, updates, now=now, source=source)
    else:
        _resets_write_portable(entries, updates, now=now, source=source)


# The ledger note of a catch-up reset; a printf template so PostgreSQL's format() fills it too.
CATCH_UP_NOTE = "caught up after %s missed period(s)"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _resets_write_postgresql(entries, updates, *, now, source) -> None:
    """PostgreSQL: each column goes as one array parameter, unnested on the server. Times go
    as integer microseconds since the epoch: a client-side bound array of timestamps is quoted
    element by element in Python, which cost more than the whole UPDATE."""
    ledger = CreditLedgerEntry._meta.db_table
    table = Subscription._meta.db_table
    as_time = "('epoch'::timestamptz + {} * interval '1 microsecond')".format
    with connection.cursor() as cursor:
        if entries:
            ids, amounts, balances, starts, missed = _columns(entries, 5)
            cursor.execute(
                f'INSERT INTO "{ledger}" ("subscription_id", "kind", "amount", "balance_after", '
                '"period_start", "source", "note", "created_at") '
                f"SELECT v.id, %s, v.amount, v.balance, {as_time('v.period_start')}, %s, "
                "CASE WHEN v.missed > 0 THEN format(%s::text, v.missed) ELSE '' END, %s "
                "FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::bigint[], %s::int[]) "
                "AS v(id, amount, balance, period_start, missed)",
                [
                    CreditLedgerEntry.Kind.RESET.value,
                    str(source),
                    CATCH_UP_NOTE,
                    now,
                    ids,
                    amounts,
                    balances,
                    [_micros(value) for value in starts],
                    missed,
                ],
            )
        if updates:
            ids, balances, starts, reset_ats, next_ats = _columns(updates, 5)
            cursor.execute(
                f'UPDATE "{table}" SET "credits_balance" = v.balance, '
                f'"credits_period_start" = {as_time("v.period_start")}, '
                f'"last_credit_reset_at" = {as_time("v.reset_at")}, '
                f'"next_credit_reset_at" = {as_time("v.next_at")}, "updated_at" = %s '
                "FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS v(id, balance, period_start, reset_at, next_at) "
                # The ANY lets the planner fetch the batch by primary key instead of hashing
                # a scan of the whole table for every batch.
                f'WHERE "{table}"."id" = v.id AND "{table}"."id" = ANY(%s::bigint[])',
                [
                    now,
                    ids,
                    balances,
                    [_micros(value) for value in starts],
                    [_micros(value) for value in reset_ats],
                    [_micros(value) for value in next_ats],
                    ids,
                ],
            )


def _micros(value: dt.datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _columns(rows, width) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


def _resets_write_portable(entries, updates, *, now, source) -> None:
    """SQLite (>= 3.33 for UPDATE ... FROM)."""
    CreditLedgerEntry.objects.bulk_create(
        CreditLedgerEntry(
            subscription_id=pk,
            kind=CreditLedgerEntry.Kind.RESET,
            amount=amount,
            balance_after=balance,
            period_start=period_start,
            source=source,
            note=CATCH_UP_NOTE % missed if missed else "",
            created_at=now,
        )
        for pk, amount, balance, period_start, missed in entries
    )
    if not updates:
        return
    adapt = connection.ops.adapt_datetimefield_value
    table = Subscription._meta.db_table
    params = [adapt(now)]
    for pk, balance, period_start, reset_at, next_at in updates:
        params += [pk, balance, adapt(period_start), adapt(reset_at), adapt(next_at)]
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(updates))
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET "credits_balance" = v.column2, '
            '"credits_period_start" = v.column3, "last_credit_reset_at" = v.column4, '
            '"next_credit_reset_at" = v.column5, "updated_at" = %s '
            f'FROM (VALUES {values}) AS v WHERE "{table}"."id" = v.column1',
            params,
        )
