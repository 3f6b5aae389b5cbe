"""The stand-in refuses what Telegram refuses, with Telegram-like descriptions."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from standin_helpers import World, call


@pytest.fixture
async def uid(env: World) -> int:
    user = await env.client.create_user("Bo")
    await env.client.send(user["id"], "/start")
    return user["id"]


def bad(status: int, body: dict[str, Any], fragment: str) -> bool:
    return (
        status == 400
        and body["ok"] is False
        and body["error_code"] == 400
        and fragment in body["description"]
    )


async def test_unknown_method_and_token(env: World) -> None:
    status, body = await call(env, "sendTelepathy", chat_id=1)
    assert status == 404 and body == {"ok": False, "error_code": 404, "description": "Not Found"}
    status, body = await call(env, "getMe", token="999:nope")
    assert status == 401 and body["description"] == "Unauthorized"


async def test_not_supported_method(env: World, uid: int) -> None:
    status, body = await call(env, "sendDice", chat_id=uid)
    assert bad(status, body, "method not supported by the stand-in")


async def test_parameter_checks(env: World, uid: int) -> None:
    assert bad(
        *await call(env, "sendMessage", chat_id=uid, text="x", colour="red"), 'unknown parameter "colour"'
    )
    assert bad(*await call(env, "sendMessage", chat_id=uid), "message text is empty")
    assert bad(*await call(env, "sendMessage", text="x"), 'parameter "chat_id" is required')
    assert bad(
        *await call(env, "sendMessage", chat_id=uid, text="x", disable_notification="maybe"), "Boolean"
    )
    assert bad(*await call(env, "deleteMessage", chat_id=uid, message_id="one"), "Integer")
    status, body = await call(env, "sendMessage", chat_id=uid, text="x", disable_notification="true")
    assert status == 200 and body["ok"]


async def test_text_limits(env: World, uid: int) -> None:
    assert bad(*await call(env, "sendMessage", chat_id=uid, text="x" * 5000), "message is too long")
    assert (await call(env, "sendMessage", chat_id=uid, text="x" * 4096))[0] == 200
    # the limit applies after entity parsing: tags do not count
    html = "<b>" + "y" * 4096 + "</b>"
    assert (await call(env, "sendMessage", chat_id=uid, text=html, parse_mode="HTML"))[0] == 200
    assert bad(*await call(env, "sendMessage", chat_id=uid, text="   "), "message text is empty")


async def test_bad_html(env: World, uid: int) -> None:
    for text in ("a < b", "<blink>x</blink>", "<b>unclosed", "<b><i>x</b></i>", "&nbsp;"):
        status, body = await call(env, "sendMessage", chat_id=uid, text=text, parse_mode="HTML")
        assert bad(status, body, "can't parse entities"), text


async def test_keyboard_limits(env: World, uid: int) -> None:
    long_data = {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]}
    assert bad(
        *await call(env, "sendMessage", chat_id=uid, text="t", reply_markup=long_data), "BUTTON_DATA_INVALID"
    )
    # 64 bytes of UTF-8 is the limit: 22 three-byte characters are 66 bytes
    cjk = {"inline_keyboard": [[{"text": "b", "callback_data": "邻" * 22}]]}
    assert bad(
        *await call(env, "sendMessage", chat_id=uid, text="t", reply_markup=cjk), "BUTTON_DATA_INVALID"
    )
    many = {"inline_keyboard": [[{"text": str(i), "callback_data": str(i)}] for i in range(101)]}
    assert bad(*await call(env, "sendMessage", chat_id=uid, text="t", reply_markup=many), "BUTTONS_TOO_MUCH")
    nested_unknown = {"inline_keyboard": [[{"text": "b", "callback_data": "x", "colour": "red"}]]}
    assert bad(
        *await call(env, "sendMessage", chat_id=uid, text="t", reply_markup=nested_unknown), "unknown field"
    )
    reply_kb = {"keyboard": [[{"text": "Menu"}]], "resize_keyboard": True}
    assert (await call(env, "sendMessage", chat_id=uid, text="t", reply_markup=reply_kb))[0] == 200


async def test_media_group_and_poll_limits(env: World, uid: int) -> None:
    media = [{"type": "photo", "media": "nonexistent"} for _ in range(11)]
    assert bad(*await call(env, "sendMediaGroup", chat_id=uid, media=media), "too many messages")
    options = [f"opt {i}" for i in range(13)]
    assert bad(*await call(env, "sendPoll", chat_id=uid, question="Q?", options=options), "12 options")
    assert bad(*await call(env, "sendPoll", chat_id=uid, question="Q?", options=["only"]), "at least 2")
    assert bad(
        *await call(env, "sendPoll", chat_id=uid, question="x" * 301, options=["a", "b"]), "POLL_QUESTION"
    )
    status, _ = await call(
        env, "sendPoll", chat_id=uid, question="Q?", options=[{"text": "a"}, {"text": "b"}]
    )
    assert status == 200


async def test_caption_and_callback_answer_limits(env: World, uid: int) -> None:
    assert bad(
        *await call(env, "sendDocument", chat_id=uid, document="BQnope", caption="c" * 1025),
        "caption is too long",
    )
    assert bad(*await call(env, "answerCallbackQuery", callback_query_id="nope"), "query ID is invalid")


async def test_not_found_and_forbidden(env: World, uid: int) -> None:
    assert bad(
        *await call(env, "editMessageText", chat_id=uid, message_id=42, text="x"), "message to edit not found"
    )
    assert bad(*await call(env, "deleteMessage", chat_id=uid, message_id=42), "message to delete not found")
    stranger = await env.client.create_user("Stranger")
    status, body = await call(env, "sendMessage", chat_id=stranger["id"], text="hi")
    assert status == 403 and body["description"] == "Forbidden: bot can't initiate conversation with a user"
    group = await env.client.create_chat("Other", member_ids=[uid], type="group")
    status, body = await call(env, "sendMessage", chat_id=group["id"], text="hi")
    assert status == 403 and body["description"] == "Forbidden: bot is not a member of the group chat"
    assert bad(*await call(env, "sendMessage", chat_id=777, text="hi"), "chat not found")


async def test_json_body_accepted(env: World, uid: int) -> None:
    url = f"{env.url}/bot{env.token}/sendMessage"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"chat_id": uid, "text": "json"}) as resp,
    ):
        assert resp.status == 200 and (await resp.json())["result"]["text"] == "json"
