"""Fetching and parsing opportunity sources; no database access here, so it runs in threads."""
