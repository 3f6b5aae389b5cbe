"""Compact, signed, expiring callback data (Telegram allows 64 bytes).

Form: ``<fields joined by ':'>~<expiry, minutes since epoch, base 36>~<signature>``; for example
``reg:b:12~q8zk1c~Xb3k9LmQ``. The signature (HMAC-SHA256, 48 bits, URL-safe base64) stops
forged presses early; every handler still authorises the press against the database. It is made with the
buttons' own key (derived from the secret, `storage/crypto.py`); after a rotation, buttons signed with the
previous secret keep working until they expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

from storage.crypto import derive_key

MAX_BYTES = 64
SEP = ":"


class BadButton(Exception):
    """The callback data was not made by us (or was altered)."""


class ExpiredButton(Exception):
    """The button is older than its time to live."""


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _sig(secret: bytes, body: str) -> str:
    mac = hmac.new(derive_key(secret, "buttons"), body.encode(), hashlib.sha256).digest()[:6]
    return base64.urlsafe_b64encode(mac).decode()


def pack(secret: bytes, fields: list[str | int], *, now: datetime, ttl: timedelta) -> str:
    parts = [str(f) for f in fields]
    for p in parts:
        if SEP in p or "~" in p or not p:
            raise ValueError(f"callback field {p!r} is empty or holds a separator")
    expiry = int((now + ttl).timestamp() // 60)
    body = SEP.join(parts) + "~" + _b36(expiry)
    data = body + "~" + _sig(secret, body)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long ({len(data.encode())} bytes): {data!r}")
    return data


def unpack(secret: bytes, data: str, *, now: datetime, previous: Sequence[bytes] = ()) -> list[str]:
    """Check and split callback data (signed with the secret or one it replaced); raises BadButton or
    ExpiredButton."""
    if len(data.encode()) > MAX_BYTES:
        raise BadButton("too long")
    pieces = data.split("~")
    if len(pieces) != 3 or not pieces[0] or not pieces[1] or not pieces[2]:
        raise BadButton("shape")
    body = pieces[0] + "~" + pieces[1]
    if not any(hmac.compare_digest(_sig(key, body).encode(), pieces[2].encode()) for key in (secret, *previous)):
        raise BadButton("signature")
    try:
        expiry = int(pieces[1], 36)
    except ValueError as exc:
        raise BadButton("expiry") from exc
    if now.timestamp() // 60 > expiry:
        raise ExpiredButton()
    return pieces[0].split(SEP)
