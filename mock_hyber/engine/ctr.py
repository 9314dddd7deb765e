"""Click tracking (`ctr`): with it on for a channel, every URL in that channel's rewritten fields
becomes a tracked short link of 28 characters, unique per phone number (RTD chapter 8, #11).

The link's length, not its letters, is what changes a message: an SMS is counted (segments,
the 5-segment limit) on its rewritten text. Each link is derived from the message id and the
link's position, so a rerun gives the same links.
"""

from __future__ import annotations

import hashlib
import re

SHORT_LINK_LENGTH = 28  # documented
LINK_PREFIX = "https://t.example/"  # a reserved name (RFC 2606): the links lead nowhere
_TOKEN = SHORT_LINK_LENGTH - len(LINK_PREFIX)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The fields ctr rewrites, per channel (the docs' list).
REWRITTEN: dict[str, tuple[str, ...]] = {
    "viber": ("text", "action"),
    "sms": ("text",),
    "push": ("text", "action"),
    "whatsapp": ("text",),
}

# A link: http(s):// up to the next white space, without a closing punctuation mark.
URL = re.compile(r"https?://\S*[^\s.,;:!?)\]}'\"]")
_COUNTING_LINK = LINK_PREFIX + "x" * _TOKEN


def rewrites(channel: str, field: str) -> bool:
    return field in REWRITTEN.get(channel, ())


def as_counted(text: str) -> str:
    """`text` with every link at its tracked length: what limits and segments count."""
    return URL.sub(_COUNTING_LINK, text) if "://" in text else text


def short_link(message_id: str, channel: str, field: str, position: int) -> str:
    digest = hashlib.blake2b(
        f"{message_id}/{channel}/{field}/{position}".encode(), digest_size=16
    ).digest()
    number = int.from_bytes(digest, "big")
    token = ""
    for _ in range(_TOKEN):
        number, digit = divmod(number, len(_ALPHABET))
        token += _ALPHABET[digit]
    return LINK_PREFIX + token


def rewrite(text: str, message_id: str, channel: str, field: str, links: dict[str, str]) -> str:
    """`text` as sent with ctr: each link replaced by its tracked link (recorded in `links`,
    tracked link -> original)."""
    position = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        link = short_link(message_id, channel, field, position)
        position += 1
        links[link] = match.group(0)
        return link

    return URL.sub(replace, text)
