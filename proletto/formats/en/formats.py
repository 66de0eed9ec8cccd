"""One date format across the admin and the pages (FORMAT_MODULE_PATH): ISO order, 24 h, and
the zone named, so "2026-03-02 10:05:00 UTC" reads the same in every list, form and message."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
TIME_FORMAT = "H:i:s"
