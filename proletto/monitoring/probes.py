"""Cheap probes for load balancers and orchestrators, each bounded in time."""

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections

PROBE_TIMEOUT_SECONDS = 2


def database_answers(*, settings_dict: dict | None = None) -> bool:
    """True if the database answers `SELECT 1` within PROBE_TIMEOUT_SECONDS.

    On PostgreSQL the probe opens its own connection with a connect timeout (which bounds
    the whole start-up, so a host that accepts and never answers gives up in time) and a
    statement timeout: the web's pooled connection could hang on such a host for minutes.
    SQLite is a local file and is asked on the usual connection.
    """
    if connection.vendor != "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except DatabaseError:
            return False
    wrapper = connections[DEFAULT_DB_ALIAS]
    if settings_dict is not None:  # another server (tests: one behind a fault proxy)
        wrapper = type(wrapper)({**wrapper.settings_dict, **settings_dict}, alias="probe")
    params = wrapper.get_connection_params()
    params["connect_timeout"] = PROBE_TIMEOUT_SECONDS
    params["options"] = (
        f"{params.get('options', '')} -c statement_timeout={PROBE_TIMEOUT_SECONDS * 1000}"
    ).strip()
    try:
        with wrapper.Database.connect(**params) as probe:
            probe.execute("SELECT 1")
        return True
    except (wrapper.Database.Error, OSError):
        return False
