"""The check-in, care and access flows queue typed notices only (#13): every `outbox.notify` there passes a frozen
dataclass (flows/notices.py), never a key with keyword parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*(ROOT / "flows" / "checkins").glob("*.py"), *(ROOT / "flows" / "care").glob("*.py"),
                ROOT / "flows" / "access.py"])


def _untyped(path: Path) -> list[int]:
    """Lines of `….notify(…, notice="…")` calls: a string (or any literal) where a notice object belongs."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
            for kw in node.keywords:
                if kw.arg == "notice" and isinstance(kw.value, ast.Constant):
                    out.append(node.lineno)
    return out


def test_item6_the_files_exist() -> None:
    assert len(FILES) > 10 and all(f.exists() for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_item6_check_ins_care_and_access_queue_typed_notices_only(path: Path) -> None:
    assert _untyped(path) == [], f"{path.name}: untyped notices queued at lines {_untyped(path)}"
