"""The message editor's per-channel counter: SMS segments as operators bill them, other channels' limits."""

from __future__ import annotations

import pytest

from ui.components.message_length import describe, sms_length


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # split messages carry 153 septets each
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table costs two septets per character
        ("Grüße à Zoé", "GSM-7", 11, 1),
        ("Grüße à Zoë", "UCS-2", 11, 1),  # ë is not in the GSM alphabet (é is)
        ("ä" * 70 + "ł", "UCS-2", 71, 2),  # one character outside GSM-7 turns the whole text to UCS-2
        ("Привет" * 11, "UCS-2", 66, 1),
        ("😀" * 35, "UCS-2", 70, 1),  # emoji are two UTF-16 units
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_sms_segments(text: str, encoding: str, units: int, segments: int) -> None:
    length = sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_the_counter_line_names_every_channel_and_flags_an_overlong_interactive_message() -> None:
    line, over = describe("Hi there", with_buttons=False)
    assert line == "8 characters · SMS 1 segment (GSM-7) · WhatsApp 8/4096 · Viber 8/7000"
    assert not over
    line, over = describe("x" * 1100, with_buttons=True)
    assert "WhatsApp 1100/1024" in line and "SMS 8 segments" in line
    assert over
