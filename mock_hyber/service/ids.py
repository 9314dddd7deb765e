"""Message and job ids: UUIDs shaped like Hyber's (version 5), drawn from the seeded source."""

from __future__ import annotations

import random

_VARIANT = {char: "89ab"[int(char, 16) & 3] for char in "0123456789abcdef"}


def new_ids(rng: random.Random, count: int) -> list[str]:
    """`count` UUID strings from `rng`; one call per request keeps large jobs cheap."""
    digits = rng.randbytes(16 * count).hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-5{digits[i + 13 : i + 16]}-"
        f"{_VARIANT[digits[i + 16]]}{digits[i + 17 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def new_id(rng: random.Random) -> str:
    return new_ids(rng, 1)[0]
