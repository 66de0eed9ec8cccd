"""`AnyOf`: a column among many values, with the values sent as one parameter on PostgreSQL.

`field__in=[...]` sends one query parameter per value: for the thousand users of a digest
batch, Django prepares each value and psycopg, which binds parameters on the client, parses
the long query text again on every call (too long for its cache), which cost more than the
database took to answer. `filter(AnyOf(F("field"), values))` is `field = ANY(%s)` with one
array parameter on PostgreSQL, and a plain IN list elsewhere. Values must already be what
the column stores (ints, strings): they are not converted.
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import Lookup


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} IN ({', '.join(['%s'] * len(self.rhs))})", (*params, *self.rhs)

    def as_postgresql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*params, self.rhs)
