"""HTML parse_mode validator and entity helpers."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.standin.formatting import ParseError, command_entities, parse_html, render_html, utf16_len


def test_entities_use_utf16_offsets() -> None:
    text, entities = parse_html('😀 <b>邻里</b> <a href="https://x.org/?a=1&amp;b=2">link</a>')
    assert text == "😀 邻里 link"
    assert entities[0] == {"type": "bold", "offset": 3, "length": 2}
    assert entities[1] == {"type": "text_link", "url": "https://x.org/?a=1&b=2", "offset": 6, "length": 4}


def test_all_allowed_tags() -> None:
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike>"
        '<del>d</del><span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre><blockquote expandable>q</blockquote>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>&#65;&#x42;&quot;'
    )
    text, entities = parse_html(source)
    assert text.endswith('x = 1q👍AB"')
    pre = next(e for e in entities if e["type"] == "pre")
    assert pre["language"] == "python"
    assert {e["type"] for e in entities} >= {"spoiler", "expandable_blockquote", "custom_emoji", "code"}


@pytest.mark.parametrize(
    "bad",
    [
        "1 < 2",
        "<div>x</div>",
        "<b>x",
        "x</b>",
        "<b><i>x</b></i>",
        "&hellip;",
        "<span>x</span>",
        "<a>x</a>",
        "<b",
    ],
)
def test_invalid_html_is_refused(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_html(bad)


def test_command_entities() -> None:
    assert command_entities("/link building 3") == [{"type": "bot_command", "offset": 0, "length": 5}]
    assert command_entities("/start@linli_bot payload") == [
        {"type": "bot_command", "offset": 0, "length": 16}
    ]
    assert command_entities("see https://a.b/c and a/b") == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_text_always_parses_back(raw: str) -> None:
    text, entities = parse_html(html.escape(raw))
    assert text == raw and entities == []
    assert utf16_len(text) == len(raw.encode("utf-16-le", "surrogatepass")) // 2


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(list("<>&/;#abiu =\"'x") + ["<b>", "</b>", "&amp;", '<a href="x">'])).map(
        "".join
    )
)
def test_validator_never_crashes(source: str) -> None:
    try:
        text, entities = parse_html(source)
    except ParseError:
        return
    for entity in entities:
        assert 0 <= entity["offset"] and entity["offset"] + entity["length"] <= utf16_len(text)
    render_html(text, entities)
