"""HTTP for sources: timeout, clear User-Agent, conditional GET, size limit, bounded redirects."""

import time
from dataclasses import dataclass

import requests


class FetchError(Exception):
    """A source could not be fetched; the message is one line for the admin."""


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str
    timeout: float
    max_bytes: int
    max_redirects: int


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes
    url: str
    content_type: str
    etag: str
    last_modified: str


def fetch(url: str, *, policy: FetchPolicy, etag: str = "", last_modified: str = "") -> Fetched:
    headers = {
        "User-Agent": policy.user_agent,
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json, text/html;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    with requests.Session() as session:
        session.max_redirects = policy.max_redirects
        try:
            response = session.get(url, headers=headers, timeout=policy.timeout, stream=True)
        except requests.TooManyRedirects as exc:
            raise FetchError(f"more than {policy.max_redirects} redirects (a loop?)") from exc
        except requests.Timeout as exc:
            raise FetchError(f"timed out after {policy.timeout:g}s") from exc
        except requests.ConnectionError as exc:
            raise FetchError(f"could not connect: {_reason(exc)}") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise FetchError(f"invalid URL {url!r}") from exc
        except requests.RequestException as exc:
            raise FetchError(f"request failed: {_reason(exc)}") from exc
        with response:
            if response.status_code == 304:
                return Fetched(
                    not_modified=True,
                    body=b"",
                    url=response.url,
                    content_type="",
                    etag=response.headers.get("ETag", etag),
                    last_modified=response.headers.get("Last-Modified", last_modified),
                )
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason or ''}".strip())
            if response.status_code != 200:
                raise FetchError(f"unexpected HTTP {response.status_code}")
            body = _read_bounded(response, policy=policy, started=started)
            return Fetched(
                not_modified=False,
                body=body,
                url=response.url,
                content_type=response.headers.get("Content-Type", ""),
                etag=response.headers.get("ETag", ""),
                last_modified=response.headers.get("Last-Modified", ""),
            )


def _read_bounded(response, *, policy: FetchPolicy, started: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"response is {int(declared)} bytes, over the {policy.max_bytes} limit")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > policy.max_bytes:
                raise FetchError(f"response is over the {policy.max_bytes} byte limit")
            # `timeout` bounds each read; this bounds a server that drips bytes forever.
            if time.monotonic() - started > 2 * policy.timeout:
                raise FetchError(f"timed out after {2 * policy.timeout:g}s (slow response)")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise FetchError(f"reading the response failed: {_reason(exc)}") from exc
    return b"".join(chunks)


def _reason(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return " ".join(text.split())[:300]
