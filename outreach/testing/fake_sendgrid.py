"""A local stand-in for SendGrid's v3 mail API, for tests and the relay benchmark.

It speaks `POST /v3/mail/send` the way SendGrid does (202 and an X-Message-Id header), on
127.0.0.1 only, and can be told to fail: the next N requests answer 500/503/400, hang past
the client's timeout, drop the connection, accept late (after the client gave up) or drip
their answer a byte at a time; some recipients can be slow. It counts what it accepted per
outbox row and writes the SendGrid tracking events (`processed`) a test posts to the
webhook. Point Anymail at it with ANYMAIL["SENDGRID_API_URL"] = server.api_url.
"""

import json
import random
import socket
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler

from proletto.testing.local_server import LocalHTTPServer

OK = "ok"
ERROR_500 = "500"
ERROR_503 = "503"
REJECT_400 = "400"
HANG = "hang"  # answers 503 only after the client has given up (an ESP-side timeout)
DROP = "drop"  # closes the connection without an answer
LATE = "late"  # accepts the email, but answers only after late_seconds (an ambiguous send)
DRIP = "drip"  # accepts the email and drips its answer one byte every drip_seconds
MODES = {OK, ERROR_500, ERROR_503, REJECT_400, HANG, DROP, LATE, DRIP}


# What a flaky ESP does when it fails at random (failure_rate): every way but a 400.
RANDOM_FAILURES = (ERROR_500, ERROR_503, HANG, DROP)


class FakeSendGrid(LocalHTTPServer):
    def __init__(
        self,
        *,
        latency: float = 0.0,
        hang_seconds: float = 2.0,
        failure_rate: float = 0.0,
        seed: int = 0,
        late_seconds: float = 3.0,
        drip_seconds: float = 1.0,
        slow_recipients: dict[str, float] | None = None,
    ):
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.late_seconds = late_seconds
        self.drip_seconds = drip_seconds
        # recipient -> seconds that recipient's requests take instead of `latency`.
        self.slow_recipients = slow_recipients or {}
        # Besides any planned failures, this share of requests fails at random (seeded).
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self.failures: Counter = Counter()
        self.accepted: list[dict] = []
        self.requests = 0
        self._plan: deque[str] = deque()
        super().__init__(_Handler)

    @property
    def api_url(self) -> str:
        return f"{self.url}/v3/"

    def fail_next(self, count: int, mode: str) -> None:
        """The next `count` requests fail with `mode` (see MODES); then it answers normally."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {sorted(MODES)}")
        with self._lock:
            self._plan.extend([mode] * count)

    def accepted_outbox_ids(self) -> Counter:
        """How many times each outbox row (its id in the message's metadata) was accepted."""
        with self._lock:
            return Counter(item["outbox_id"] for item in self.accepted)

    def accepted_at(self) -> dict[str, list[float]]:
        """When (time.monotonic()) each outbox row's copies were accepted."""
        times: dict[str, list[float]] = {}
        with self._lock:
            for item in self.accepted:
                times.setdefault(item["outbox_id"], []).append(item["at"])
        return times

    def processed_events(self, *, after: int = 0) -> tuple[list[dict], int]:
        """SendGrid `processed` events for the emails accepted since the `after`-th, as the
        tracking webhook receives them, and the position to ask from next time."""
        with self._lock:
            items = self.accepted[after:]
            position = len(self.accepted)
        events = [
            {
                "event": "processed",
                "email": item["to"][0] if item["to"] else "",
                "timestamp": int(time.time()),
                "sg_event_id": f"processed-{item['message_id']}",
                "sg_message_id": f"{item['message_id']}.filter0001",
                "anymail_id": item["anymail_id"],
                # SendGrid merges a message's custom args (Anymail metadata) into its events.
                **item["custom_args"],
            }
            for item in items
        ]
        return events, position

    def _next_mode(self) -> str:
        with self._lock:
            self.requests += 1
            if self._plan:
                mode = self._plan.popleft()
            elif self.failure_rate and self._random.random() < self.failure_rate:
                mode = self._random.choice(RANDOM_FAILURES)
            else:
                mode = OK
            if mode != OK:
                self.failures[mode] += 1
            return mode

    def _accept(self, payload: dict) -> str:
        message_id = uuid.uuid4().hex[:22]
        personalization = payload.get("personalizations", [{}])[0]
        custom_args = {**payload.get("custom_args", {}), **personalization.get("custom_args", {})}
        with self._lock:
            self.accepted.append(
                {
                    "message_id": message_id,
                    "at": time.monotonic(),
                    "to": [item["email"] for item in personalization.get("to", [])],
                    "subject": payload.get("subject", ""),
                    "outbox_id": custom_args.get("outbox_id")
                    or payload.get("headers", {}).get("X-Proletto-Outbox-Id"),
                    "anymail_id": custom_args.get("anymail_id"),
                    "custom_args": {k: v for k, v in custom_args.items() if k != "anymail_id"},
                    "payload": payload,
                }
            )
        return message_id

    def _latency_for(self, payload: dict) -> float:
        if self.slow_recipients:
            for personalization in payload.get("personalizations", []):
                for item in personalization.get("to", []):
                    if item.get("email") in self.slow_recipients:
                        return self.slow_recipients[item["email"]]
        return self.latency


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: one connection per sender

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        fake: FakeSendGrid = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v3/mail/send":
            return self._json(404, {"errors": [{"message": "not found"}]})
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self._json(401, {"errors": [{"message": "authorization required"}]})
        mode = fake._next_mode()
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        latency = fake._latency_for(payload) if isinstance(payload, dict) else fake.latency
        if latency:
            time.sleep(latency)  # the simulated network and ESP latency
        if mode == DROP:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == HANG:
            time.sleep(fake.hang_seconds)
            return self._json(503, {"errors": [{"message": "gateway timeout"}]})
        if mode in (ERROR_500, ERROR_503):
            return self._json(int(mode), {"errors": [{"message": "service unavailable"}]})
        if not isinstance(payload, dict):
            return self._json(400, {"errors": [{"message": "invalid JSON"}]})
        if mode == REJECT_400:
            return self._json(
                400, {"errors": [{"message": "The from address is not a verified Sender."}]}
            )
        if mode == LATE:
            message_id = fake._accept(payload)
            time.sleep(fake.late_seconds)  # the client gave up long ago; the email is sent
            return self._accepted(message_id)
        if mode == DRIP:
            return self._drip(fake._accept(payload), fake.drip_seconds)
        self._accepted(fake._accept(payload))

    def _accepted(self, message_id: str) -> None:
        self.send_response(202)
        self.send_header("X-Message-Id", message_id)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drip(self, message_id: str, seconds: float) -> None:
        # Each byte comes well inside any per-read timeout: only a deadline for the whole
        # request stops a client from waiting forever.
        answer = (
            f"HTTP/1.1 202 Accepted\r\nX-Message-Id: {message_id}\r\n" + "X-Drip: 1\r\n" * 10_000
        ).encode()
        self.close_connection = True
        try:
            for position in range(len(answer)):
                self.wfile.write(answer[position : position + 1])
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:
            return  # the client hung up

    def _json(self, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
