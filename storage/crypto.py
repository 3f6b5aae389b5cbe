"""The deployment's secret and the keys made from it: one key per purpose, each with a key id.

- ledger: Fernet encryption at rest of the care ledger's personal fields (`Sealer`). A sealed text starts with the
  id of the secret that sealed it (`<key id>:<Fernet token>`), so after `linli keys rotate` the right key opens it;
  texts sealed before key ids (a bare Fernet token) are opened with the old derivation of every secret held.
- buttons: the HMAC that signs callback data (`bot/core/callbacks.py`).
- ballot: the HMAC of ballot voter tokens and receipts. A rotation changes it, so `linli keys rotate` is refused
  while a ballot is open (a voter's sheet is found by that token until the ballot closes).

Keys are HMAC-SHA256(secret, "linli/<purpose>"): knowing one purpose's key tells nothing about another's."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: The shortest secret accepted (bytes): a key of 256 bits
MIN_SECRET_BYTES = 32
PURPOSES = ("ledger", "buttons", "ballot")
KEY_ID_SEP = ":"


@lru_cache(maxsize=64)
def derive_key(secret: bytes, purpose: str) -> bytes:
    """The 32-byte key of one purpose (ledger, buttons, ballot) made from the deployment's secret."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    if purpose == "ballot":
        # as before key ids: ballots opened before this version keep their voter tokens (domain-separated all
        # the same: no other purpose hashes this prefix)
        return hashlib.sha256(b"linli-ballot:" + secret).digest()
    return hmac.new(secret, b"linli/" + purpose.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=16)
def key_id(secret: bytes) -> str:
    """A short public name of a secret (8 hex digits), written in front of what its keys seal."""
    return hmac.new(secret, b"linli/key-id", hashlib.sha256).hexdigest()[:8]


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


def _before_key_ids(secret: bytes) -> Fernet:
    """The ledger key of versions without key ids (texts sealed then are bare Fernet tokens)."""
    return _fernet(hashlib.sha256(b"linli-ledger:" + secret).digest())


class Sealer:
    """Encrypts and decrypts short texts. One per process, built from the secret key (and the secrets it replaced,
    which still open what they sealed: MultiFernet reads with all of them and writes with the current one)."""

    def __init__(self, secret: bytes, previous: Sequence[bytes] = ()) -> None:
        secrets = [secret, *(p for p in previous if p and p != secret)]
        self.key_id = key_id(secret)
        self._by_id = {key_id(s): _fernet(derive_key(s, "ledger")) for s in reversed(secrets)}
        self._current = self._by_id[self.key_id]
        self._old = MultiFernet([_before_key_ids(s) for s in secrets])

    def seal(self, text: str) -> str:
        return f"{self.key_id}{KEY_ID_SEP}{self._current.encrypt(text.encode()).decode()}" if text else ""

    def open(self, token: str) -> str:
        if not token:
            return ""
        kid, sep, body = token.partition(KEY_ID_SEP)
        try:
            if not sep:
                return self._old.decrypt(token.encode()).decode()
            fernet = self._by_id.get(kid)
            if fernet is None:
                raise ValueError(f"sealed text cannot be opened: it was sealed with key {kid}, which is not held")
            return fernet.decrypt(body.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed text cannot be opened with this key") from exc

    def is_current(self, token: str) -> bool:
        """Whether the text is sealed with the current key (or empty): nothing for a rotation to do."""
        return not token or token.startswith(self.key_id + KEY_ID_SEP)

    def reseal(self, token: str) -> str:
        """The same text sealed with the current key."""
        return token if self.is_current(token) else self.seal(self.open(token))
