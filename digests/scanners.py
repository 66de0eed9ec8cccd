"""Link scanners: mail security services and clients that follow a message's links before
(or instead of) the reader. What they follow is not the artist's click or answer.

Three tells, the first two from the request alone, the third from timing
(digests.services.tracking): a HEAD or prefetch request; a user agent of a known scanner;
several cards of one digest followed within seconds of each other. A card counts toward that
when its own link is followed, or both its answers ("more like this" and "not for me"): an
artist answering several cards within seconds answers each once, and those answers count.
"""

# Substrings of the user agents of mail link scanners and preview fetchers, lower case.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "symantec",
    "messagelabs",
    "forcepoint",
    "trend micro",
    "trendmicro",
    "sophos",
    "fortiguard",
    "checkpoint",
    "cisco",
    "ironport",
    "bingpreview",
    "googleimageproxy",
    "slackbot",
    "python-requests",
    "curl/",
    "wget/",
    "go-http-client",
)
# Headers browsers send with a prefetch or a link preview: nobody chose to follow the link.
PREFETCH_HEADERS = {
    "HTTP_PURPOSE": "prefetch",
    "HTTP_SEC_PURPOSE": "prefetch",
    "HTTP_X_PURPOSE": "preview",
    "HTTP_X_MOZ": "prefetch",
}
# This many different cards of one digest followed (as above) within BURST_SECONDS: a scanner.
BURST_LINKS = 3
BURST_SECONDS = 10


def scanner_reason(*, method: str, meta: dict) -> str | None:
    """Why this request is a scanner's, from the request alone; None if it may be the artist's."""
    if method == "HEAD":
        return "HEAD request"
    for header, word in PREFETCH_HEADERS.items():
        if word in meta.get(header, "").lower():
            return "prefetch"
    agent = meta.get("HTTP_USER_AGENT", "").lower()
    for name in SCANNER_AGENTS:
        if name in agent:
            return f"scanner user agent ({name})"
    return None
