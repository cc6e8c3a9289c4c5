"""Pseudonyms for person identifiers: HMAC-SHA256 with a secret key from the settings.

The same person maps to the same pseudonym under one key, so evidence and entries still meet;
without the key a pseudonym cannot be tied back to an ID number (no dictionary attack over the
small space of valid ID numbers, as a plain hash would allow).
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError(
                "the pseudonym key is too short: set SENTINEL_PSEUDONYM_KEY to 16+ random bytes"
            )
        self._key = key

    def __call__(self, identifier: str) -> str:
        digest = hmac.new(self._key, identifier.encode(), hashlib.sha256).hexdigest()
        return f"p_{digest[:32]}"

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"
