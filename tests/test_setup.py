"""Issue #12 items 8 and 9: `make test` sets up the browser tests' packages itself (or says the one command to run),
and `make run` installs only what running needs.

The decision of .ci/browser-deps is checked here without running apt: the commands it would run are recorded."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "browser-deps"


def _load():
    loader = importlib.machinery.SourceFileLoader("browser_deps", str(SCRIPT))
    spec = importlib.util.spec_from_loader("browser_deps", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["browser_deps"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


deps = _load()
ALL = ["chromium", "fonts-noto-cjk", "fonts-noto-color-emoji"]


@pytest.fixture(autouse=True)
def _no_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINLI_SKIP_BROWSER", raising=False)


def test_item8_missing_as_root_installs_what_ci_installs() -> None:
    plan = deps.plan(["chromium"], root=True, sudo=False, apt=True)
    assert plan.action == "install"
    assert plan.commands[-1][-6:] == ["install", "-y", "-qq", *ALL]
    assert all(cmd[0] != "sudo" for cmd in plan.commands)


def test_item8_missing_with_passwordless_sudo_installs_through_sudo() -> None:
    plan = deps.plan(["fonts-noto-color-emoji"], root=False, sudo=True, apt=True)
    assert plan.action == "install"
    assert all(cmd[:2] == ["sudo", "-n"] for cmd in plan.commands)


def test_item8_missing_without_root_fails_with_the_one_command() -> None:
    plan = deps.plan(["chromium", "fonts-noto-color-emoji"], root=False, sudo=False, apt=True)
    assert plan.action == "fail" and plan.commands == []
    assert "sudo apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji" in plan.message
    assert "chromium, fonts-noto-color-emoji" in plan.message


def test_item8_nothing_missing_or_skipped_does_nothing() -> None:
    assert deps.plan([], root=False, sudo=False, apt=True).action == "ok"
    assert deps.plan(["chromium"], root=False, sudo=False, apt=True, skip=True).action == "ok"


def test_item8_without_apt_even_root_is_told_what_to_install() -> None:
    plan = deps.plan(["chromium"], root=True, sudo=False, apt=False)
    assert plan.action == "fail" and "chromium" in plan.message


def test_item8_missing_detects_each_package() -> None:
    assert deps.missing(find_chromium=lambda: None, fc_list=lambda *a: "") == ALL
    fonts = {":lang=zh": "x.ttc: Noto Sans CJK SC\n", None: "y.ttf: Noto Color Emoji:style=Regular\n"}
    assert deps.missing(find_chromium=lambda: "/usr/bin/chromium",
                        fc_list=lambda *a: fonts[a[0] if a else None]) == []


def test_item8_main_runs_the_install_then_checks_again() -> None:
    ran: list[list[str]] = []
    said: list[str] = []
    states = iter([["chromium"], []])
    code = deps.main(run=lambda cmd: ran.append(cmd) or 0, absent=lambda: next(states), root=True,
                     sudo=lambda: False, apt=True, out=said.append)
    assert code == 0
    assert [cmd[-1] for cmd in ran] == ["-qq", "fonts-noto-color-emoji"]
    assert said and said[0].startswith("== installing")


def test_item8_main_not_root_fails_at_once_without_running_anything() -> None:
    ran: list[list[str]] = []
    said: list[str] = []
    code = deps.main(run=lambda cmd: ran.append(cmd) or 0, absent=lambda: ["fonts-noto-cjk"], root=False,
                     sudo=lambda: False, apt=True, out=said.append)
    assert code == 1 and ran == []
    assert "sudo apt-get install -y" in said[0]


def test_item8_make_test_runs_the_check_and_ci_only_starts_services() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_rule = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert ".ci/browser-deps" in test_rule
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "apt-get" not in ci and "make test" in ci


def _make_dry_run(target: str, tmp_path: Path) -> str:
    """What `make TARGET` would run on a fresh machine (a venv that does not exist yet), without running it."""
    out = subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}", "LINLI_BOT_TOKEN="],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout


def test_item9_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    run = _make_dry_run("run", tmp_path)
    assert "install --quiet -e ." in run or "install --python" in run
    assert "[test]" not in run


@pytest.mark.parametrize("target", ["test", "lint", "bench"])
def test_item9_test_lint_and_bench_install_the_test_extras(target: str, tmp_path: Path) -> None:
    assert '-e ".[test]"' in _make_dry_run(target, tmp_path)


def test_item7_the_browser_tests_require_the_emoji_font(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.web import conftest as web

    module = web._browser_deps()
    monkeypatch.setattr(module, "chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(module, "_fc_list", lambda *a: "x.ttc: Noto Sans CJK SC\n")  # CJK, no emoji font
    with pytest.raises(pytest.fail.Exception, match="fonts-noto-color-emoji"):
        web.chromium_path()
    monkeypatch.setattr(module, "_fc_list", lambda *a: "x.ttc: Noto Sans CJK SC\ny.ttf: Noto Color Emoji\n")
    assert web.chromium_path() == "/usr/bin/chromium"
