"""Turning untrusted web text and links into what we store: plain text and canonical URLs."""

import html
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track a click; two links differing in them are the same page.
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref_src",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
}
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_")
UNSAFE_ELEMENTS = ("script", "style", "noscript", "template", "iframe", "object")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def plain_text(value, *, max_length: int | None = None, multiline: bool = False) -> str:
    """Markup stripped, entities decoded, control characters dropped, whitespace collapsed.

    Runs twice because feeds often escape their HTML once more ("&lt;script&gt;"), which
    decodes to markup we must strip too.
    """
    if value is None:
        return ""
    text = str(value)
    for _ in range(2):
        if "<" not in text:
            text = html.unescape(text)
            if "<" not in text:
                break
        text = _TextExtractor.extract(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    else:
        text = " ".join(text.split())
    if max_length is not None and len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


class _TextExtractor(HTMLParser):
    """The text of an HTML fragment, without what is inside script, style, ... elements.

    The standard library's tokenizer, without building a tree: a title or description is
    one short fragment, and thousands of them are stripped per scrape.
    """

    BLOCK_ELEMENTS = {"br", "p", "li", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    @classmethod
    def extract(cls, fragment: str) -> str:
        parser = cls()
        parser.feed(fragment)
        parser.close()
        return "".join(parser.parts)

    def handle_starttag(self, tag, attrs):
        if tag in UNSAFE_ELEMENTS:
            self.skipping += 1
        elif tag in self.BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in UNSAFE_ELEMENTS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def canonical_url(link: str, *, base_url: str = "") -> str | None:
    """The link made absolute, tracking parameters and fragment removed; None if not http(s)."""
    link = plain_text(link)
    if not link:
        return None
    try:
        parts = urlsplit(urljoin(base_url, link) if base_url else link)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    url = urlunsplit((scheme, netloc, parts.path or "/", urlencode(sorted(query)), ""))
    return url if len(url) <= 1000 else None
