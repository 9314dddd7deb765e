"""Optional HMAC signature of callback bodies, so a receiver can check who sent them."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hyber-Signature"


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the account's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, body), header)
