"""Issue #11, per-update cost: a long-running process sets its start-up heap aside from the garbage collector
(bot/heap.py), which walked ~360,000 objects in every full collection and stopped the event loop for ~200 ms."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

import bot.app
import bot.sandbox
from bot import heap


def test_item_cost_settle_freezes_what_start_up_left_alive() -> None:
    kept = [[] for _ in range(1000)]  # objects alive now
    try:
        frozen = heap.settle()
        assert frozen == gc.get_freeze_count() and frozen >= len(kept)
        assert not any(kept[0] is o for o in gc.get_objects())  # frozen objects are no collection's business
    finally:
        gc.unfreeze()  # tests start and stop many apps in one process: nothing stays frozen here


@pytest.mark.parametrize("kind", ["linli run", "sandbox"])
async def test_item_cost_the_long_running_processes_settle_after_their_start(monkeypatch: pytest.MonkeyPatch,
                                                                             kind: str) -> None:
    steps: list[str] = []

    async def step(name: str) -> None:
        steps.append(name)

    monkeypatch.setattr(heap, "settle", lambda: steps.append("settle") or 0)
    for module in (bot.app, bot.sandbox):
        monkeypatch.setattr(module, "wait_for_signal", lambda: step("serve"))
    app = SimpleNamespace(start=lambda: step("start"), stop=lambda: step("stop"), url="", board_url="")
    serve = bot.app.LinliApp.serve_forever if kind == "linli run" else bot.sandbox.Sandbox.serve_forever
    await serve(app)  # type: ignore[arg-type]
    assert steps == ["start", "settle", "serve", "stop"]
