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
    """How many SMS segments `text` takes (0 for an empty text)."""
    if is_gsm7(text):
        units = len(text) + len(_EXTENSION.findall(text))
        single, per_segment = GSM7_SINGLE, GSM7_SEGMENT
    else:
        # Characters outside the Basic Multilingual Plane (most emoji) take two UCS-2 units.
        units = len(text) + sum(1 for char in text if ord(char) > 0xFFFF)
        single, per_segment = UCS2_SINGLE, UCS2_SEGMENT
    if units <= single:
        return 1 if units else 0
    return -(-units // per_segment)


def is_gsm7_alpha_name(name: str) -> bool:
    """SMS sender ids take GSM-7 default-alphabet characters only (no extension table)."""
    return all(char in GSM7_BASIC for char in name)
