"""What the relay writes of a failed send fits in the outbox row."""

from outreach.services.sending import _one_line


def test_an_error_text_with_a_nul_byte_is_stored_without_it():
    assert _one_line(ValueError("ESP said\x00no")) == "ValueError: ESP said no"
