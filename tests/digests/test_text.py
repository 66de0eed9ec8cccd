import pytest

from digests.scraping.text import canonical_url, plain_text


def test_it_drops_script_tags_and_their_content():
    assert plain_text("<script>alert(1)</script>Open call") == "Open call"


def test_it_strips_markup_escaped_twice():
    assert plain_text("&lt;script&gt;alert(1)&lt;/script&gt;<b>Grant</b>") == "Grant"


def test_it_decodes_entities_to_plain_text():
    assert plain_text("Line &amp; Mark &mdash; prize") == "Line & Mark — prize"


def test_it_keeps_a_literal_less_than_sign():
    assert plain_text("Artists &lt; 30 years old") == "Artists < 30 years old"


def test_it_drops_control_characters_and_collapses_spaces():
    assert plain_text("Open\x00 \x1b[31m call\n\n  now") == "Open [31m call now"


def test_it_keeps_paragraphs_in_multiline_text():
    assert plain_text("<p>One</p><p>Two</p>", multiline=True) == "One\nTwo"


def test_it_truncates_long_text_with_an_ellipsis():
    assert plain_text("word " * 100, max_length=20).endswith("…")
    assert len(plain_text("word " * 100, max_length=20)) == 20


@pytest.mark.parametrize(
    "link",
    [
        "https://example.org/call?utm_source=x&utm_medium=y&fbclid=1&gclid=2",
        "HTTPS://Example.org:443/call#apply",
        "https://example.org/call?mc_cid=abc&_hsenc=p",
    ],
)
def test_it_strips_tracking_parameters_fragments_and_default_ports(link):
    assert canonical_url(link) == "https://example.org/call"


def test_it_keeps_meaningful_query_parameters_in_a_stable_order():
    assert canonical_url("https://example.org/c?id=7&lang=en") == canonical_url(
        "https://example.org/c?lang=en&utm_campaign=z&id=7"
    )


def test_it_resolves_relative_links_against_the_page():
    assert canonical_url("../calls/1", base_url="https://ex.org/list/page") == (
        "https://ex.org/calls/1"
    )


@pytest.mark.parametrize("link", ["javascript:alert(1)", "mailto:a@b.c", "", "ftp://x.org/a"])
def test_it_refuses_links_that_are_not_http(link):
    assert canonical_url(link) is None


def test_it_drops_an_unclosed_script_and_html_comments():
    assert plain_text("Prize<!-- <b>x</b> --><script>steal(document.cookie)") == "Prize"


def test_it_drops_style_and_iframe_content():
    assert plain_text("<style>p{}</style><iframe>frame</iframe>Residency") == "Residency"
