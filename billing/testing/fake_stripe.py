"""A local stand-in for the parts of Stripe's API Proletto calls, for tests and `make demo`.

It speaks Stripe's wire format on 127.0.0.1 only: form-encoded requests under /v1/, JSON
objects back, Stripe's error shape for unknown ids. Point the `stripe` library at it with
`stripe.api_base = server.api_base` (the STRIPE_API_BASE setting). Never the network.

- `POST /v1/checkout/sessions` (mode=subscription) answers a session whose `url` is a page on
  this server standing in for Stripe's hosted checkout. Its "Pay" button creates a customer
  and an active subscription, POSTs a signed `checkout.session.completed` event to
  `webhook_url` (the same signature scheme as Stripe's, with `webhook_secret`) and redirects
  the browser to the session's success_url.
- `POST /v1/billing_portal/sessions` answers a session whose `url` is a portal page with a
  link back to `return_url`.
- `GET /v1/subscriptions/<id>`, `GET /v1/customers/<id>`, `GET /v1/checkout/sessions/<id>`:
  stored objects (tests add their own with `add_subscription` / `add_customer`).

Standalone, for the demo:
    python -m billing.testing.fake_stripe --port 12111 \
        --webhook-url http://127.0.0.1:8000/billing/stripe/webhook/ --webhook-secret whsec_...
"""

import argparse
import hashlib
import hmac
import html
import itertools
import json
import re
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from proletto.testing.local_server import LocalHTTPServer

_ids = itertools.count(1)
_NESTED_KEY = re.compile(r"\[([^\]]*)\]")


def stripe_signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header value for `payload`, made the way Stripe makes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def form_to_dict(body: str) -> dict:
    """Stripe's form encoding (`line_items[0][price]=p`, `metadata[k]=v`) back into objects."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        path = [head, *_NESTED_KEY.findall(key)]
        node = result
        for part, following in zip(path, path[1:], strict=False):
            default: dict | list = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(type(default)())
                node = node[index]
            else:
                node = node.setdefault(part, default)
        last = path[-1]
        if isinstance(node, list):
            index = int(last)
            while len(node) <= index:
                node.append(None)
            node[index] = value
        else:
            node[last] = value
    return result


def _new_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):06d}"


class FakeStripe(LocalHTTPServer):
    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        port: int = 0,
    ):
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.requests: list[dict] = []  # every API call: method, path, params
        self.webhook_deliveries: list[dict] = []  # every event POSTed: event, status
        self.subscriptions: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.checkout_sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        super().__init__(_Handler, port=port)

    @property
    def api_base(self) -> str:
        return self.url

    # --- objects -----------------------------------------------------------------------

    def add_customer(self, customer: dict) -> dict:
        customer = {"object": "customer", "metadata": {}, **customer}
        customer.setdefault("id", _new_id("cus"))
        with self._lock:
            self.customers[customer["id"]] = customer
        return customer

    def add_subscription(self, subscription: dict) -> dict:
        """Store a subscription (Stripe's JSON shape); `id` is made up when missing."""
        subscription = {"object": "subscription", "metadata": {}, **subscription}
        subscription.setdefault("id", _new_id("sub"))
        with self._lock:
            self.subscriptions[subscription["id"]] = subscription
        return subscription

    def create_checkout_session(self, params: dict) -> dict:
        session_id = _new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.url}/checkout/{session_id}",
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "line_items_requested": params.get("line_items", []),
            "metadata": params.get("metadata", {}),
            "subscription_data": params.get("subscription_data", {}),
            "subscription": None,
            "created": int(time.time()),
        }
        with self._lock:
            self.checkout_sessions[session_id] = session
        return session

    def complete_checkout(self, session_id: str) -> dict:
        """What paying on the hosted page does: customer, subscription, signed webhook."""
        with self._lock:
            session = self.checkout_sessions[session_id]
        if session["status"] == "complete":
            return session
        customer_id = session["customer"]
        if not customer_id:
            customer_id = self.add_customer({"email": session["customer_email"]})["id"]
        now = int(time.time())
        items = [
            {
                "id": _new_id("si"),
                "object": "subscription_item",
                "price": {"id": item.get("price"), "object": "price"},
                "quantity": int(item.get("quantity") or 1),
                "current_period_start": now,
                "current_period_end": now + 30 * 86400,
            }
            for item in session["line_items_requested"]
        ]
        subscription = self.add_subscription(
            {
                "customer": customer_id,
                "status": "active",
                "billing_cycle_anchor": now,
                "start_date": now,
                "items": {"object": "list", "data": items},
                "metadata": dict(session["subscription_data"].get("metadata", {})),
            }
        )
        with self._lock:
            session.update(
                status="complete",
                payment_status="paid",
                customer=customer_id,
                subscription=subscription["id"],
            )
        self.send_event("checkout.session.completed", _public(session))
        return session

    def create_portal_session(self, params: dict) -> dict:
        session_id = _new_id("bps")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": params.get("customer"),
            "return_url": params.get("return_url"),
            "url": f"{self.url}/portal/{session_id}",
            "created": int(time.time()),
        }
        with self._lock:
            self.portal_sessions[session_id] = session
        return session

    def send_event(self, event_type: str, obj: dict) -> int | None:
        """POST a signed event to webhook_url; returns the HTTP status (None if not sent)."""
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
        if not self.webhook_url:
            self.webhook_deliveries.append({"event": event, "status": None})
            return None
        payload = json.dumps(event)
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers["Stripe-Signature"] = stripe_signature_header(payload, self.webhook_secret)
        request = urllib.request.Request(
            self.webhook_url, data=payload.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        self.webhook_deliveries.append({"event": event, "status": status})
        return status


def _public(session: dict) -> dict:
    return {key: value for key, value in session.items() if key != "line_items_requested"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeStripe/1"

    def log_message(self, *args):  # keep test output clean
        pass

    @property
    def fake(self) -> FakeStripe:
        return self.server.fake

    def _params(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        query = urlsplit(self.path).query
        return form_to_dict("&".join(part for part in (query, body) if part))

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", _new_id("req"))
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _missing(self, kind: str, object_id: str) -> None:
        self._json(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "id",
                    "message": f"No such {kind}: '{object_id}'",
                }
            },
        )

    def _stored(self, kind: str, objects: dict, object_id: str) -> None:
        obj = objects.get(object_id)
        if obj is None:
            self._missing(kind, object_id)
        else:
            self._json(200, _public(obj))

    def do_GET(self):
        path = urlsplit(self.path).path.rstrip("/")
        self.fake.requests.append({"method": "GET", "path": path, "params": {}})
        parts = path.strip("/").split("/")
        fake = self.fake
        if parts[:2] == ["v1", "subscriptions"] and len(parts) == 3:
            return self._stored("subscription", fake.subscriptions, parts[2])
        if parts[:2] == ["v1", "customers"] and len(parts) == 3:
            return self._stored("customer", fake.customers, parts[2])
        if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            return self._stored("checkout.session", fake.checkout_sessions, parts[3])
        if parts[0] == "checkout" and len(parts) == 2 and parts[1] in fake.checkout_sessions:
            return self._html(200, _checkout_page(fake.checkout_sessions[parts[1]]))
        if parts[0] == "portal" and len(parts) == 2 and parts[1] in fake.portal_sessions:
            return self._html(200, _portal_page(fake.portal_sessions[parts[1]]))
        self._json(
            404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
        )

    def do_POST(self):
        path = urlsplit(self.path).path.rstrip("/")
        params = self._params()
        self.fake.requests.append({"method": "POST", "path": path, "params": params})
        parts = path.strip("/").split("/")
        fake = self.fake
        if path == "/v1/checkout/sessions":
            if params.get("mode") != "subscription" or not params.get("line_items"):
                return self._json(
                    400,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "mode=subscription and line_items are required",
                        }
                    },
                )
            return self._json(200, _public(fake.create_checkout_session(params)))
        if path == "/v1/billing_portal/sessions":
            if not params.get("customer"):
                return self._json(
                    400,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "param": "customer",
                            "message": "Missing required param: customer.",
                        }
                    },
                )
            return self._json(200, fake.create_portal_session(params))
        if parts[0] == "checkout" and len(parts) == 3 and parts[2] == "pay":
            session = fake.checkout_sessions.get(parts[1])
            if session is None:
                return self._missing("checkout.session", parts[1])
            session = fake.complete_checkout(parts[1])
            success = (session["success_url"] or "/").replace(
                "{CHECKOUT_SESSION_ID}", session["id"]
            )
            return self._redirect(success)
        self._json(
            404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
        )


def _checkout_page(session: dict) -> str:
    items = "".join(
        f"<li>{html.escape(str(item.get('price')))} × {html.escape(str(item.get('quantity') or 1))}</li>"  # noqa: E501
        for item in session["line_items_requested"]
    )
    cancel = html.escape(session["cancel_url"] or "/")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (local Stripe stand-in)</title></head>
<body style="font-family:sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem">
<p><strong>Local Stripe stand-in</strong>: no card is charged, nothing leaves this machine.</p>
<ul>{items}</ul>
<form method="post" action="/checkout/{html.escape(session["id"])}/pay">
<button type="submit" id="pay">Pay</button></form>
<p><a href="{cancel}" id="cancel">Cancel</a></p></body></html>"""


def _portal_page(session: dict) -> str:
    back = html.escape(session["return_url"] or "/")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billing portal (local Stripe stand-in)</title></head>
<body style="font-family:sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem">
<p><strong>Local Stripe stand-in</strong> of the customer portal for
{html.escape(str(session["customer"]))}.</p>
<p><a href="{back}" id="return">Back to Proletto</a></p></body></html>"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in of Stripe's API")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args(argv)
    fake = FakeStripe(
        port=args.port, webhook_url=args.webhook_url, webhook_secret=args.webhook_secret
    )
    print(f"local Stripe stand-in on {fake.url}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
