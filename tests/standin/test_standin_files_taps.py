"""Uploads, downloads and file_id re-use; button taps; transcript and client helpers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from standin_helpers import World, call, png_bytes, updates


async def multipart(
    env: World, method: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
) -> Any:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    for key, (name, data) in files.items():
        form.add_field(key, data, filename=name, content_type="application/octet-stream")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{env.url}/bot{env.token}/{method}", data=form) as r,
    ):
        return r.status, await r.json()


async def started_user(env: World, name: str = "Pat") -> int:
    user = await env.client.create_user(name)
    await env.client.send(user["id"], "/start")
    return user["id"]


async def test_photo_upload_get_file_download_and_reuse(env: World) -> None:
    uid = await started_user(env)
    status, body = await multipart(
        env, "sendPhoto", {"chat_id": str(uid)}, {"photo": ("a.png", png_bytes(800, 600))}
    )
    assert status == 200, body
    sizes = body["result"]["photo"]
    assert (sizes[-1]["width"], sizes[-1]["height"]) == (800, 600)
    assert max(sizes[0]["width"], sizes[0]["height"]) == 320  # a real thumbnail
    _, got = await call(env, "getFile", file_id=sizes[-1]["file_id"])
    path = got["result"]["file_path"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{env.url}/file/bot{env.token}/{path}") as resp,
    ):
        assert resp.status == 200 and await resp.read() == png_bytes(800, 600)
    status, reused = await call(env, "sendPhoto", chat_id=uid, photo=sizes[-1]["file_id"])
    assert status == 200 and reused["result"]["photo"][-1]["file_id"] == sizes[-1]["file_id"]
    item = (await env.client.transcript(uid))["messages"][-1]
    assert await env.client.file_bytes(item["photo"]["file_id"]) == png_bytes(800, 600)


async def test_photo_errors(env: World) -> None:
    uid = await started_user(env)
    status, body = await multipart(
        env, "sendPhoto", {"chat_id": str(uid)}, {"photo": ("a.png", b"not an image")}
    )
    assert status == 400 and body["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    status, body = await call(env, "sendPhoto", chat_id=uid, photo="AgACunknown")
    assert status == 400 and "wrong file identifier" in body["description"]
    status, body = await multipart(
        env, "sendDocument", {"chat_id": str(uid)}, {"document": ("n.txt", b"notes")}
    )
    assert status == 200
    status, body = await call(env, "sendPhoto", chat_id=uid, photo=body["result"]["document"]["file_id"])
    assert status == 400


async def test_user_uploads_photo(env: World) -> None:
    uid = await started_user(env)
    msg = await env.client.send_photo(uid, png_bytes(100, 50), caption="meter reading")
    assert msg["photo"][-1]["width"] == 100 and msg["caption"] == "meter reading"
    doc = await env.client.send_document(uid, b"%PDF-1.4", file_name="bill.pdf")
    assert doc["document"]["mime_type"] == "application/pdf"
    loc = await env.client.send_location(uid, 39.9, 116.4)
    assert loc["location"]["latitude"] == 39.9
    got = await updates(env)
    assert [bool(u["message"].get("photo")) for u in got[-3:]] == [True, False, False]


async def test_tap_requires_real_button_unless_forged(env: World) -> None:
    uid = await started_user(env)
    kb = {"inline_keyboard": [[{"text": "Agree", "callback_data": "agree:1"}]]}
    _, sent = await call(env, "sendMessage", chat_id=uid, text="Vote", reply_markup=kb)
    mid = sent["result"]["message_id"]
    try:
        await env.client.tap(uid, uid, mid, data="admin:delete_all", wait=0)
        raise AssertionError("a forged tap must be refused")
    except Exception as exc:  # ControlError
        assert "no such button" in str(exc)
    forged = await env.client.tap(uid, uid, mid, data="admin:delete_all", forge=True, wait=0)
    assert forged["answer"] is None
    got = await updates(env)
    assert got[-1]["callback_query"]["data"] == "admin:delete_all"


async def test_press_and_say_helpers(env: World) -> None:
    """A tiny polling "bot" answers taps and /ping; the client helpers see the results."""
    uid = await started_user(env)
    await updates(env, offset=(await updates(env))[-1]["update_id"] + 1)
    stop = asyncio.Event()

    async def echo_bot() -> None:
        offset = 0
        while not stop.is_set():
            for update in await updates(env, offset=offset, timeout=1):
                offset = update["update_id"] + 1
                if "callback_query" in update:
                    query = update["callback_query"]
                    await call(env, "answerCallbackQuery", callback_query_id=query["id"], text="Saved")
                    msg = query["message"]
                    await call(
                        env,
                        "editMessageText",
                        chat_id=msg["chat"]["id"],
                        message_id=msg["message_id"],
                        text="Thanks!",
                    )
                elif update["message"].get("text") == "/ping":
                    kb = {"inline_keyboard": [[{"text": "👍 Like", "callback_data": "like"}]]}
                    await call(env, "sendMessage", chat_id=uid, text="pong", reply_markup=kb)

    task = asyncio.create_task(echo_bot())
    try:
        replies = await env.client.say(uid, "/ping")
        assert [m["text"] for m in replies] == ["pong"]
        assert env.client.find_button(replies[0], "Like") == "like"
        toast, changed = await env.client.press(uid, uid, replies[0]["message_id"], "Like")
        assert toast is not None and toast["text"] == "Saved"
        assert changed[0]["text"] == "Thanks!" and changed[0]["edited"] and changed[0]["kind"] == "edit"
        last = await env.client.last_bot_message(uid)
        assert last is not None and last["text"] == "Thanks!"
    finally:
        stop.set()
        await task


async def test_transcript_since_and_wait(env: World) -> None:
    uid = await started_user(env)
    cursor = await env.client.cursor()
    waiter = asyncio.create_task(env.client.wait(cursor, timeout=5))
    await asyncio.sleep(0.05)
    _, sent = await call(env, "sendMessage", chat_id=uid, text="<b>bold</b>", parse_mode="HTML")
    woke = await asyncio.wait_for(waiter, 2)
    assert woke["cursor"] > cursor
    page = await env.client.transcript(uid, since=cursor)
    assert [m["text"] for m in page["messages"]] == ["bold"]
    assert page["messages"][0]["html"] == "<b>bold</b>"
    assert page["messages"][0]["rendered_html"] == "<b>bold</b>"
    await call(env, "deleteMessage", chat_id=uid, message_id=sent["result"]["message_id"])
    later = await env.client.transcript(uid, since=page["cursor"])
    assert later["messages"][0]["deleted"] is True
    assert (await env.client.transcript(uid, since=later["cursor"]))["messages"] == []


async def test_reset_keeps_bots(env: World) -> None:
    await started_user(env)
    await env.client.reset()
    assert await env.client.users() == [] and len(await env.client.bots()) == 1
    assert await env.client.settle(quiet_ms=0, timeout=1)


async def test_page_is_served(env: World) -> None:
    async with aiohttp.ClientSession() as session, session.get(env.url + "/") as resp:
        assert resp.status == 200 and "html" in (await resp.text()).lower()
