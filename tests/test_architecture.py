"""Imports point down only: flows/ and storage/ never import a framework or a layer above."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = {"aiogram", "telegram", "fastapi", "starlette", "apscheduler", "aiohttp", "uvicorn"}
ABOVE = {"flows": {"bot", "web", "scheduler"}, "storage": {"bot", "web", "scheduler", "flows"}}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", ["flows", "storage"])
def test_layer_imports_no_framework_and_nothing_above(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"{layer}/ has no Python files"
    offenders = []
    for path in files:
        bad = imported_roots(path) & (FRAMEWORKS | ABOVE[layer])
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_web_reads_through_flows() -> None:
    """web/ renders what flows give it: no queries of its own (no SQL toolkit, no tables), no Telegram framework."""
    files = sorted((ROOT / "web").rglob("*.py"))
    assert files, "web/ has no Python files"
    offenders = []
    for path in files:
        names = imported_modules(path)
        bad = {n for n in names if n.split(".")[0] in {"sqlalchemy", "sqlmodel", "aiogram", "telegram"}
               or n == "storage.models" or n.startswith("storage.models.")}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []
    sample = ROOT / "web" / "board.py"
    assert "flows.public" in imported_modules(sample)


def test_the_check_itself_catches_a_framework_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from aiogram import Bot\nimport fastapi.routing\nfrom . import local\n")
    assert imported_roots(sample) == {"aiogram", "fastapi"}


def test_features_share_no_command_button_prefix_or_flow() -> None:
    from bot.core.dispatch import Ctx, Router
    from bot.handlers import build_router

    router = build_router()  # raises on a clash
    assert "ballot" in router.commands and "vote" in router.commands
    first, second = Router(), Router()

    async def noop(_ctx: Ctx) -> None:
        return None

    first.callback("zz")(noop)
    second.callback("zz")(noop)
    whole = Router()
    whole.include(first)
    with pytest.raises(ValueError, match="callback prefix registered twice: zz"):
        whole.include(second)
