"""The counts a job reports: only the kinds that happened."""

from collections import Counter


def _counts(counter: Counter) -> dict:
    return {key: value for key, value in counter.items() if value}
