"""Update delivery: getUpdates confirmation, allowed_updates, webhooks, membership events."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from standin_helpers import World, call, updates


async def test_offset_confirmation_and_redelivery(env: World) -> None:
    user = await env.client.create_user("Cy")
    for text in ("one", "two", "three"):
        await env.client.send(user["id"], text)
    first = await updates(env, limit=2)
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    again = await updates(env)  # nothing confirmed yet: everything comes again
    assert [u["message"]["text"] for u in again] == ["one", "two", "three"]
    rest = await updates(env, offset=first[-1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert await updates(env, offset=rest[-1]["update_id"] + 1) == []
    assert await env.client.settle(quiet_ms=0, timeout=1)


async def test_long_poll_wakes_on_new_update(env: World) -> None:
    user = await env.client.create_user("Di")
    poll = asyncio.create_task(updates(env, timeout=5))
    await asyncio.sleep(0.1)
    await env.client.send(user["id"], "wake up")
    got = await asyncio.wait_for(poll, 2)
    assert got[0]["message"]["text"] == "wake up"


async def test_allowed_updates(env: World) -> None:
    user = await env.client.create_user("Ed")
    msg = await env.client.send(user["id"], "react to me")
    await env.client.react(user["id"], user["id"], msg["message_id"], "👍")
    kinds = [next(k for k in u if k != "update_id") for u in await updates(env)]
    assert kinds == ["message"]  # message_reaction is not in the default set
    last = (await updates(env))[-1]["update_id"]
    await updates(env, offset=last + 1, allowed_updates=["message", "message_reaction"])
    await env.client.react(user["id"], user["id"], msg["message_id"], "🔥")
    got = await updates(env)  # allowed_updates omitted: the previous setting stays
    assert got[0]["message_reaction"]["new_reaction"] == [{"type": "emoji", "emoji": "🔥"}]
    assert got[0]["message_reaction"]["old_reaction"] == [{"type": "emoji", "emoji": "👍"}]


async def test_reactions_in_groups_need_admin(env: World) -> None:
    user = await env.client.create_user("Fa")
    group = await env.client.create_chat("G", member_ids=[user["id"]])
    await env.client.set_bot_membership(group["id"], "member", user["id"])
    await updates(env, allowed_updates=["message", "message_reaction", "my_chat_member"])
    msg = await env.client.send(user["id"], "hello", chat_id=group["id"])
    await env.client.react(user["id"], group["id"], msg["message_id"], "👍")
    assert not any("message_reaction" in u for u in await updates(env))
    await env.client.set_bot_membership(group["id"], "administrator", user["id"])
    await env.client.react(user["id"], group["id"], msg["message_id"], "❤")
    assert any("message_reaction" in u for u in await updates(env))


async def test_my_chat_member_on_add_and_remove(env: World) -> None:
    admin = await env.client.create_user("Gu")
    group = await env.client.create_chat("Estate", member_ids=[admin["id"]])
    await env.client.set_bot_membership(group["id"], "member", admin["id"])
    await env.client.set_bot_membership(group["id"], "left", admin["id"])
    got = await updates(env)
    member_events = [u["my_chat_member"] for u in got if "my_chat_member" in u]
    assert [(e["old_chat_member"]["status"], e["new_chat_member"]["status"]) for e in member_events] == [
        ("left", "member"),
        ("member", "left"),
    ]
    service = [u["message"] for u in got if "message" in u]
    assert service[0]["new_chat_members"][0]["username"] == "linli_test_bot"
    chats = {c["id"]: c for c in await env.client.chats()}
    assert chats[group["id"]]["bot_status"] == {"linli_test_bot": "left"}


async def test_block_gives_403_and_my_chat_member(env: World) -> None:
    user = await env.client.create_user("Hu")
    await env.client.send(user["id"], "/start")
    await env.client.block(user["id"], True)
    status, body = await call(env, "sendMessage", chat_id=user["id"], text="hi")
    assert status == 403 and body["description"] == "Forbidden: bot was blocked by the user"
    got = await updates(env)
    assert got[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    await env.client.block(user["id"], False)
    assert (await call(env, "sendMessage", chat_id=user["id"], text="hi"))[0] == 200


async def test_join_emits_chat_member_only_when_asked(env: World) -> None:
    admin = await env.client.create_user("Iv")
    newcomer = await env.client.create_user("Jo")
    group = await env.client.create_chat("Estate", member_ids=[admin["id"]])
    await env.client.set_bot_membership(group["id"], "administrator", admin["id"])
    earlier = await updates(env, allowed_updates=["message", "chat_member"])
    await updates(env, offset=earlier[-1]["update_id"] + 1)
    await env.client.join(group["id"], newcomer["id"])
    got = await updates(env)
    assert got[0]["message"]["new_chat_members"][0]["id"] == newcomer["id"]
    assert got[1]["chat_member"]["new_chat_member"]["status"] == "member"


async def test_webhook_delivery_with_secret_and_retry(env: World) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    fail_first = {"left": 2}

    async def hook(request: web.Request) -> web.Response:
        if fail_first["left"] > 0:
            fail_first["left"] -= 1
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(text="{}", content_type="application/json")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        status, _ = await call(
            env, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="tok_EN-1"
        )
        assert status == 200
        status, body = await call(env, "getUpdates")
        assert status == 409 and "Conflict" in body["description"]
        user = await env.client.create_user("Ka")
        await env.client.send(user["id"], "via webhook")
        assert await env.client.settle(quiet_ms=50, timeout=5)
        assert received and received[0][0] == "tok_EN-1"
        assert received[0][1]["message"]["text"] == "via webhook"
        _, info = await call(env, "getWebhookInfo")
        assert info["result"]["pending_update_count"] == 0 and "last_error_message" in info["result"]
    finally:
        await call(env, "deleteWebhook")
        await runner.cleanup()


async def test_webhook_reply_method_is_executed(env: World) -> None:
    user = await env.client.create_user("Lu")

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "echo"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await call(env, "setWebhook", url=f"http://127.0.0.1:{port}/hook")
        replies = await env.client.say(user["id"], "hi")
        assert [m["text"] for m in replies] == ["echo"]
    finally:
        await call(env, "deleteWebhook")
        await runner.cleanup()


async def test_poll_answers_reach_the_bot(env: World) -> None:
    user = await env.client.create_user("Mo")
    await env.client.send(user["id"], "/start")
    _, sent = await call(
        env, "sendPoll", chat_id=user["id"], question="Q?", options=["a", "b"], is_anonymous=False
    )
    poll_id = sent["result"]["poll"]["id"]
    await env.client.answer_poll(user["id"], poll_id, [1])
    got = await updates(env)
    answer = next(u["poll_answer"] for u in got if "poll_answer" in u)
    assert answer["option_ids"] == [1] and answer["user"]["id"] == user["id"]
    transcript = await env.client.transcript(user["id"])
    poll_item = next(m for m in transcript["messages"] if m["poll"])
    assert poll_item["poll"]["options"][1]["voter_count"] == 1
