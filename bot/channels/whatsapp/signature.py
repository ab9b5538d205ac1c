"""Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>`."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign", "signature_valid"]

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for this body."""
    return PREFIX + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None, app_secret: str | None) -> bool:
    """True only for a present, well-formed signature that matches the exact bytes received."""
    if not app_secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret), header.strip().lower())
