"""Fixtures: a running stand-in on a free port with one bot, and a control client."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# the project is not installed into the venv: make `bot` importable when pytest runs from anywhere
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from standin_helpers import TOKEN, USERNAME, World  # noqa: E402

from bot.standin import RateLimits, StandIn, StandInClient  # noqa: E402


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn(limits=RateLimits(enabled=False))
    server.create_bot(TOKEN, USERNAME, "Linli")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def env(standin: StandIn) -> AsyncIterator[World]:
    async with StandInClient(standin.url) as client:
        yield World(standin, client, standin.url)
