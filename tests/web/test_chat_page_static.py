"""Static checks of the sandbox chat page (bot/standin/static): present, offline-safe, test hooks in place."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "bot" / "standin" / "static"
FILES = ("index.html", "app.js", "style.css")


def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", FILES)
def test_file_exists_and_not_empty(name: str) -> None:
    assert (STATIC / name).is_file()
    assert len(_read(name)) > 200


def test_index_links_its_assets() -> None:
    html = _read("index.html")
    assert 'src="/static/app.js"' in html
    assert 'href="/static/style.css"' in html
    assert 'charset="utf-8"' in html and 'name="viewport"' in html


@pytest.mark.parametrize("name", FILES)
def test_no_external_resources(name: str) -> None:
    text = _read(name)
    # The sandbox machine is offline: no CDN scripts, stylesheets, fonts or images.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text), name


def test_chinese_labels_by_default() -> None:
    html = _read("index.html")
    for label in ("你是谁", "选择聊天", "输入消息…", "发送", "上传图片"):
        assert label in html, label
    js = _read("app.js")
    assert "en: {" in js and "zh: {" in js  # tiny dictionary for the English toggle


def test_test_hooks_present() -> None:
    text = _read("index.html") + _read("app.js")
    hooks = (
        "user-select", "chat-select", "chat-item", "message", "message-text", "button", "composer-input",
        "composer-send", "photo-input", "toast", "poll-option", "new-user-name", "new-user-create", "start-private",
    )
    for hook in hooks:
        assert re.search(rf"""(data-testid="{hook}"|testid: '{hook}')""", text), hook
    assert "data-message-id" in text and "data-from-bot" in text and "data-chat-id" in text


def test_html_rendering_is_not_innerhtml() -> None:
    js = _read("app.js")
    # Bot HTML is rebuilt node by node from an allow-list; never injected as markup.
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    for tag in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "blockquote"):
        assert re.search(rf"\b{tag}: '", js), tag
    assert "tg-spoiler" in js


def test_uses_control_api() -> None:
    js = _read("app.js")
    for path in ("/_control/users", "/_control/chats", "/_control/bots", "/_control/transcript", "/_control/wait",
                 "/_control/messages", "/_control/photos", "/_control/taps", "/_control/poll_answers",
                 "/_control/reactions"):
        assert path in js, path


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_app_js_parses() -> None:
    result = subprocess.run(["node", "--check", str(STATIC / "app.js")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
