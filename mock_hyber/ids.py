"""Job and message ids, derived instead of stored.

Every id is a version-5-shaped UUID that encodes `(job number, index)` under a keyed
permutation (a 4-round Feistel network over the UUID's 122 free bits), so:
- ids look random and never repeat within an account (the permutation is a bijection);
- nothing is stored per message: a job keeps its number, and `locate(id)` inverts the
  permutation to find the job and the recipient's index (an id the account never gave out
  decodes to a number it does not hold);
- the same seed, account and requests give the same ids.

The job id is the id of index `JOB_INDEX`. `ids_of(...)` computes a whole job's ids at once
with numpy (50,000 in a few milliseconds plus formatting).
"""

from __future__ import annotations

import uuid

import numpy as np

MASK61 = (1 << 61) - 1
MASK64 = (1 << 64) - 1
JOB_INDEX = 0xFFFFFFFF  # the index whose id is the job's own id
_M1, _M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9  # odd mixing constants (splitmix64)
_ROUNDS = 4


class IdCodec:
    """Ids of one account: `key` (32 bytes from the root random source) picks the permutation."""

    def __init__(self, key: bytes) -> None:
        self.keys = tuple(int.from_bytes(key[8 * r : 8 * r + 8], "little") for r in range(_ROUNDS))
        self._np_keys = [np.uint64(k) for k in self.keys]

    # -- one id -----------------------------------------------------------------------------

    @staticmethod
    def _mix(x: int, key: int) -> int:
        x = ((x ^ key) * _M1) & MASK64
        x ^= x >> 31
        x = (x * _M2) & MASK64
        x ^= x >> 29
        return x & MASK61

    def id_of(self, job_number: int, index: int = JOB_INDEX) -> str:
        plain = (job_number << 32) | index
        left, right = plain >> 61, plain & MASK61
        for key in self.keys:
            left, right = right, left ^ self._mix(right, key)
        return _format(*_uuid_words(left, right))

    def locate(self, text: str) -> tuple[int, int] | None:
        """(job number, index) of an id this codec gave out, or None for any other text."""
        digits = text.replace("-", "")
        if len(digits) != 32 or len(text) != 36:
            return None
        try:
            value = int(digits, 16)
        except ValueError:
            return None
        if text != _format(value >> 64, value & MASK64):  # one canonical spelling
            return None
        high, low = value >> 64, value & MASK64
        if (high >> 12) & 0xF != 5 or low >> 62 != 0b10:
            return None
        left = ((high >> 16) << 13) | ((high & 0xFFF) << 1) | ((low >> 61) & 1)
        right = low & MASK61
        for key in reversed(self.keys):
            left, right = right ^ self._mix(left, key), left
        plain = (left << 61) | right
        return plain >> 32, plain & 0xFFFFFFFF

    # -- a whole job ---------------------------------------------------------------------------

    def ids_of(self, job_number: int, count: int, start: int = 0) -> list[str]:
        """The ids of indexes start .. start+count-1 of a job, in order."""
        with np.errstate(over="ignore"):
            plain = np.arange(start, start + count, dtype=np.uint64) | np.uint64(job_number << 32)
            left = plain >> np.uint64(61)
            right = plain & np.uint64(MASK61)
            for key in self._np_keys:
                left, right = right, left ^ _np_mix(right, key)
        high = ((left >> np.uint64(13)) << np.uint64(16)) | np.uint64(5 << 12)
        high |= (left >> np.uint64(1)) & np.uint64(0xFFF)
        low = np.uint64(2 << 62) | ((left & np.uint64(1)) << np.uint64(61)) | right
        digits = np.stack([high, low], axis=1).astype(">u8").tobytes().hex()
        return [
            f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-{digits[i + 12 : i + 16]}-"
            f"{digits[i + 16 : i + 20]}-{digits[i + 20 : i + 32]}"
            for i in range(0, 32 * count, 32)
        ]


def _np_mix(x: np.ndarray, key: np.uint64) -> np.ndarray:
    x = (x ^ key) * np.uint64(_M1)
    x ^= x >> np.uint64(31)
    x = x * np.uint64(_M2)
    x ^= x >> np.uint64(29)
    return x & np.uint64(MASK61)


def _uuid_words(left: int, right: int) -> tuple[int, int]:
    """The UUID's two 64-bit words around the version (5) and variant (0b10) bits."""
    high = ((left >> 13) << 16) | (5 << 12) | ((left >> 1) & 0xFFF)
    low = (2 << 62) | ((left & 1) << 61) | right
    return high, low


def _format(high: int, low: int) -> str:
    digits = f"{high:016x}{low:016x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


UMID_NAMESPACE = uuid.UUID("6f2b8c52-8f4e-5d1a-9a77-0d4c3e2b1a90")


def umid_of(source: str) -> str:
    """The WhatsApp transport id (`umid`) of a message: the same for every reply to it."""
    return str(uuid.uuid5(UMID_NAMESPACE, source))
