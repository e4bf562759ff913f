"""How long a message text is on each channel, for the counter under the message editor.

A flow is not tied to one channel (the campaign's sender decides), so the editor shows every channel's
view at once: SMS in segments (what the operator bills), WhatsApp and Viber against their length
limits. Counts are of the text as written, before ``{{variables}}`` are filled in.

SMS arithmetic (3GPP TS 23.038 / 23.040): a text that fits the GSM 7-bit alphabet costs one septet per
character, two for the extension table (``€ [ ] { } \\ ~ ^ |``), 160 septets in one segment or 153 per
segment once split (the rest carries the concatenation header). Anything else goes as UCS-2: 70 UTF-16
code units in one segment, 67 per part. The alphabet itself comes from the ``gsm0338`` codec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

WHATSAPP_TEXT_LIMIT = 4096
WHATSAPP_INTERACTIVE_LIMIT = 1024
"""The body of a message with reply buttons (an interactive message) is limited to 1,024 characters."""
VIBER_TEXT_LIMIT = 7000


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    segments: int


@dataclass(frozen=True, slots=True)
class ChannelLimit:
    channel: str
    length: int
    limit: int

    @property
    def over(self) -> bool:
        return self.length > self.limit


def sms_length(text: str) -> SmsLength:
    try:
        units = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return SmsLength("UCS-2", units, _segments(units, single=70, part=67))
    return SmsLength("GSM-7", units, _segments(units, single=160, part=153))


def _segments(units: int, *, single: int, part: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / part)


def channel_limits(text: str, *, with_buttons: bool) -> list[ChannelLimit]:
    """WhatsApp and Viber lengths against their limits (characters as people count them)."""
    length = len(text)
    whatsapp = WHATSAPP_INTERACTIVE_LIMIT if with_buttons else WHATSAPP_TEXT_LIMIT
    return [ChannelLimit("WhatsApp", length, whatsapp), ChannelLimit("Viber", length, VIBER_TEXT_LIMIT)]


def describe(text: str, *, with_buttons: bool) -> tuple[str, bool]:
    """The counter's line, e.g. ``148 characters · SMS 1 segment (GSM-7) · WhatsApp 148/1024``, and
    whether some channel's limit is exceeded."""
    sms = sms_length(text)
    parts = [f"{len(text)} characters"]
    if sms.segments:
        plural = "segment" if sms.segments == 1 else "segments"
        parts.append(f"SMS {sms.segments} {plural} ({sms.encoding})")
    limits = channel_limits(text, with_buttons=with_buttons)
    parts.extend(f"{limit.channel} {limit.length}/{limit.limit}" for limit in limits)
    return " · ".join(parts), any(limit.over for limit in limits)
