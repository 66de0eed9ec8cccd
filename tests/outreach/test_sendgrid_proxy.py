"""The SendGrid transport reaches the ESP through the proxy requests would use."""

import requests

from outreach.sendgrid_backend import esp_pool

API_URL = "https://api.sendgrid.com/v3/mail/send"


def test_a_proxy_with_a_user_and_password_gets_them_as_proxy_authorization(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://relay:s3cret@proxy.internal:3128")
    pool = esp_pool(API_URL, requests.Session())
    assert pool.proxy_headers["Proxy-Authorization"] == "Basic cmVsYXk6czNjcmV0"


def test_a_socks_proxy_leaves_the_sending_to_requests(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.internal:1080")
    assert esp_pool(API_URL, requests.Session()) is None
