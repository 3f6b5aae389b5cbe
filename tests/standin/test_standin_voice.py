"""Voice messages: a resident records one for the bot; the bot sends (or re-sends by file_id) one."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from standin_helpers import World, call, png_bytes, updates

from bot.standin.client import ControlError


def ogg_opus(seconds: int, pre_skip: int = 312) -> bytes:
    """A tiny Ogg Opus-shaped stream: OpusHead page, then a last page ending at ``seconds``."""

    def page(granule: int, sequence: int, payload: bytes) -> bytes:
        header = b"OggS\x00\x02" + granule.to_bytes(8, "little") + b"\x01\x00\x00\x00"
        return header + sequence.to_bytes(4, "little") + b"\x00" * 4 + bytes([1, len(payload)]) + payload

    head = (
        b"OpusHead\x01\x01" + pre_skip.to_bytes(2, "little") + (48000).to_bytes(4, "little") + b"\x00\x00\x00"
    )
    audio = bytes(range(60))  # stands in for Opus packets; the stand-in never decodes audio
    return page(0, 0, head) + page(pre_skip + seconds * 48000, 1, audio)


async def multipart(env: World, method: str, fields: dict[str, str], files: dict[str, bytes]) -> Any:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    for key, data in files.items():
        form.add_field(key, data, filename=f"{key}.ogg", content_type="application/octet-stream")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{env.url}/bot{env.token}/{method}", data=form) as resp,
    ):
        return resp.status, await resp.json()


async def started_user(env: World, name: str) -> int:
    user = await env.client.create_user(name)
    await env.client.send(user["id"], "/start")
    return user["id"]


async def download(env: World, file_id: str) -> bytes:
    """What a bot does with a file: getFile, then GET the file URL."""
    status, got = await call(env, "getFile", file_id=file_id)
    assert status == 200, got
    url = f"{env.url}/file/bot{env.token}/{got['result']['file_path']}"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_user_voice_reaches_bot_and_downloads(env: World) -> None:
    uid = await started_user(env, "Pat")
    data = ogg_opus(7)
    sent = await env.client.send_voice(uid, data, duration=7, caption="水管漏了")
    voice = sent["voice"]
    assert voice["duration"] == 7 and sent["caption"] == "水管漏了"
    message = (await updates(env))[-1]["message"]
    assert message["voice"] == {
        "file_id": voice["file_id"],
        "file_unique_id": voice["file_unique_id"],
        "duration": 7,
        "mime_type": "audio/ogg",
        "file_size": len(data),
    }
    assert "document" not in message and "photo" not in message
    assert await download(env, voice["file_id"]) == data
    item = (await env.client.transcript(uid))["messages"][-1]
    assert item["voice"]["duration"] == 7 and item["voice"]["file_size"] == len(data)
    assert item["voice"]["url"].endswith(voice["file_id"]) and item["photo"] is None
    assert await env.client.file_bytes(item["voice"]["file_id"]) == data


async def test_bot_sends_voice_by_upload_and_forwards_by_file_id(env: World) -> None:
    resident = await started_user(env, "Pat")
    admin = await started_user(env, "Admin")
    status, body = await multipart(
        env,
        "sendVoice",
        {"chat_id": str(resident), "caption": "<b>收到</b>", "parse_mode": "HTML"},
        {"voice": ogg_opus(3)},
    )
    assert status == 200, body
    uploaded = body["result"]["voice"]
    assert uploaded["duration"] == 3  # measured from the Ogg Opus stream: no duration was given
    assert body["result"]["caption_entities"][0]["type"] == "bold"
    assert await download(env, uploaded["file_id"]) == ogg_opus(3)

    recorded = await env.client.send_voice(resident, ogg_opus(12), duration=12)
    kb = {"inline_keyboard": [[{"text": "回复", "callback_data": "reply:1"}]]}
    status, body = await call(
        env,
        "sendVoice",
        chat_id=admin,
        voice=recorded["voice"]["file_id"],
        caption="来自 Pat",
        reply_markup=kb,
    )
    assert status == 200, body
    assert body["result"]["voice"] == recorded["voice"]  # the same file, duration as recorded
    item = (await env.client.transcript(admin))["messages"][-1]
    assert item["is_bot"] and item["caption"] == "来自 Pat" and item["reply_markup"] == kb
    assert item["voice"]["file_id"] == recorded["voice"]["file_id"] and item["voice"]["duration"] == 12
    assert await env.client.file_bytes(item["voice"]["file_id"]) == ogg_opus(12)

    status, body = await call(
        env, "editMessageCaption", chat_id=admin, message_id=item["message_id"], caption="已处理"
    )
    assert status == 200 and body["result"]["caption"] == "已处理", body


async def test_send_voice_refusals(env: World) -> None:
    uid = await started_user(env, "Pat")
    status, body = await multipart(env, "sendPhoto", {"chat_id": str(uid)}, {"photo": png_bytes(40, 30)})
    assert status == 200, body
    photo_id = body["result"]["photo"][-1]["file_id"]
    status, body = await call(env, "sendVoice", chat_id=uid, voice=photo_id)
    assert (status, body["description"]) == (400, "Bad Request: can't use file of type Photo as Voice")
    status, body = await call(env, "sendVoice", chat_id=uid)
    assert (status, body["description"]) == (400, 'Bad Request: parameter "voice" is required')
    recorded = await env.client.send_voice(uid, ogg_opus(2), duration=2)
    status, body = await call(
        env, "sendVoice", chat_id=uid, voice=recorded["voice"]["file_id"], caption="x" * 1025
    )
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")
    status, body = await call(env, "sendVoice", chat_id=uid, voice="AwACunknown")
    assert status == 400 and "wrong file identifier" in body["description"]
    status, body = await multipart(env, "sendVoice", {"chat_id": str(uid)}, {"voice": b""})
    assert (status, body["description"]) == (400, "Bad Request: file must be non-empty")
    sent = [m for m in (await env.client.transcript(uid))["messages"] if m["is_bot"]]
    assert [bool(m["photo"]) for m in sent] == [True]  # no refused call left a message behind


async def test_control_refuses_bad_voice(env: World) -> None:
    uid = await started_user(env, "Pat")
    with pytest.raises(ControlError) as zero:
        await env.client.send_voice(uid, ogg_opus(1), duration=0)
    assert zero.value.status == 400 and "positive" in str(zero.value)
    with pytest.raises(ControlError) as empty:
        await env.client.send_voice(uid, b"", duration=3)
    assert empty.value.status == 400 and "empty" in str(empty.value)
    body = {"user_id": uid, "data": "T2dnUw=="}  # no duration at all
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{env.url}/_control/voices", json=body) as resp,
    ):
        assert resp.status == 400 and "duration" in (await resp.json())["error"]
    assert all(m["voice"] is None for m in (await env.client.transcript(uid))["messages"])
