"""SMS segment counting with the GSM 03.38 rules of the Hyber docs (RTD chapter 7).

GSM-7: 160 septets in one SMS, 153 per segment when concatenated; the extension characters
(form feed, ^ { } \\ [ ~ ] | €) take two septets. Anything outside the GSM-7 alphabet makes the
whole text UCS-2: 70 characters in one SMS, 67 per segment.
"""

from __future__ import annotations

import re

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

_GSM7_ONLY = re.compile("[" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]*")
_EXTENSION = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")

GSM7_SINGLE, GSM7_SEGMENT = 160, 153
UCS2_SINGLE, UCS2_SEGMENT = 70, 67
MAX_SEGMENTS = 5  # 765 Latin / 335 Cyrillic characters, the documented limits


def is_gsm7(text: str) -> bool:
    return _GSM7_ONLY.fullmatch(text) is not None


def segment_count(text: str) -> int:
    """How many SMS segments `text` takes (0 for an empty text). A GSM-7 escape pair (an
    extension character) never straddles two segments (GSM 03.38)."""
    if is_gsm7(text):
        escapes = len(_EXTENSION.findall(text))
        units = len(text) + escapes
        if units <= GSM7_SINGLE:
            return 1 if units else 0
        return _packed_segments(text) if escapes else -(-units // GSM7_SEGMENT)
    # Characters outside the Basic Multilingual Plane (most emoji) take two UCS-2 units.
    units = len(text) + sum(1 for char in text if ord(char) > 0xFFFF)
    if units <= UCS2_SINGLE:
        return 1 if units else 0
    return -(-units // UCS2_SEGMENT)


def _packed_segments(text: str) -> int:
    """GSM-7 segments filled in order, an escape pair moving whole to the next segment."""
    segments, room = 1, GSM7_SEGMENT
    for char in text:
        size = 2 if char in GSM7_EXTENSION else 1
        if size > room:
            segments, room = segments + 1, GSM7_SEGMENT
        room -= size
    return segments


def is_gsm7_alpha_name(name: str) -> bool:
    """SMS sender ids take GSM-7 default-alphabet characters only (no extension table)."""
    return all(char in GSM7_BASIC for char in name)
