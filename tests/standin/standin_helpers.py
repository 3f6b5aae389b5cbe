"""Small helpers shared by the stand-in tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from PIL import Image

from bot.standin import StandIn, StandInClient

TOKEN = "123456:TEST-token_abc"
USERNAME = "linli_test_bot"


@dataclass
class World:
    standin: StandIn
    client: StandInClient
    url: str
    token: str = TOKEN


def png_bytes(width: int = 640, height: int = 480, color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


async def call(
    env: World, method: str, token: str | None = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    """POST a Bot API method as a form (nested values JSON-encoded, like real clients)."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    url = f"{env.url}/bot{token or env.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as resp:
        return resp.status, await resp.json()


async def updates(env: World, **params: Any) -> list[dict[str, Any]]:
    status, body = await call(env, "getUpdates", **params)
    assert status == 200, body
    return body["result"]
