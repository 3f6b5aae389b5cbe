"""Control API (JSON over HTTP under /_control/) used by tests, benches and the web page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import commands
from . import objects as obj
from .actions import ActionError, toast_json
from .formatting import render_html
from .guard import file_response
from .limits import Faults
from .state import Chat, StoredMessage, World

if TYPE_CHECKING:
    from .server import StandIn

Handler = Callable[[web.Request], Awaitable[Any]]
PREFIX = "/_control"


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


def _guard(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Run a control handler; bad input becomes 400 {"error": ...}."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            result = await handler(request)
        except (ActionError, ValueError, KeyError, TypeError) as exc:
            message = exc.args[0] if exc.args else exc.__class__.__name__
            if isinstance(exc, KeyError):
                message = f"missing field {message!r}"
            return _reply({"error": str(message)}, 400)
        if isinstance(result, web.StreamResponse):
            return result
        return _reply(result)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise ValueError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be an integer")
    return int(value)


def _opt_int(value: Any, name: str) -> int | None:
    return None if value in (None, "") else _int(value, name)


# ---------------------------------------------------------------------- serialisers
def chat_summary(chat: Chat, world: World) -> dict[str, Any]:
    out: dict[str, Any] = {"id": chat.id, "type": chat.type, "title": chat.title}
    if chat.type == "private":
        bot = world.bots.get(chat.bot_id or 0)
        user = world.users.get(chat.user_id or 0)
        out.update(
            title=user.first_name if user else None,
            user_id=chat.user_id,
            bot=bot.user.username if bot else None,
            blocked=chat.blocked,
            member_ids=[chat.user_id],
        )
        return out
    out["member_ids"] = [
        uid for uid, s in chat.members.items() if s in ("creator", "administrator", "member")
    ]
    out["members"] = {str(uid): s for uid, s in chat.members.items()}
    out["bot_status"] = {
        world.bots[bid].user.username or str(bid): s
        for bid, s in chat.bot_status.items()
        if bid in world.bots
    }
    return out


def _file_ref(file_id: str) -> str:
    return f"{PREFIX}/files/{file_id}"


def transcript_item(msg: StoredMessage, world: World) -> dict[str, Any]:
    """A message as the web page and tests see it."""
    kind = "service" if msg.kind == "service" else ("edit" if msg.edit_date is not None else "message")
    item: dict[str, Any] = {
        "seq": msg.seq,
        "message_id": msg.message_id,
        "chat_id": msg.chat.id,
        "from": obj.user_json(msg.sender),
        "is_bot": msg.is_bot,
        "date": msg.date,
        "kind": kind,
        "text": msg.text,
        "entities": msg.entities,
        "caption": msg.caption,
        "caption_entities": msg.caption_entities,
        "html": msg.source_html,
        "rendered_html": _rendered(msg),
        "reply_markup": msg.reply_markup,
        "reply_to_message_id": msg.reply_to,
        "media_group_id": msg.media_group_id,
        "photo": None,
        "document": None,
        "voice": None,
        "poll": obj.poll_json(world.polls[msg.poll_id]) if msg.poll_id in world.polls else None,
        "location": msg.location,
        "edited": msg.edit_date is not None,
        "edit_date": msg.edit_date,
        "deleted": msg.deleted,
        "pinned": msg.pinned,
        "reactions": [{"user_id": uid, "emoji": emoji} for uid, emoji in msg.reactions.items()],
        "service": _service(msg),
    }
    if msg.photo:
        big = msg.photo[-1]
        item["photo"] = {
            "file_id": big.file_id,
            "url": _file_ref(big.file_id),
            "width": big.width,
            "height": big.height,
        }
    if msg.document is not None:
        doc = msg.document
        item["document"] = {
            "file_id": doc.file_id,
            "url": _file_ref(doc.file_id),
            "file_name": doc.file_name,
            "mime_type": doc.mime_type,
            "file_size": len(doc.data),
        }
    if msg.voice is not None:
        voice = msg.voice
        item["voice"] = {
            "file_id": voice.file_id,
            "url": _file_ref(voice.file_id),
            "duration": voice.duration or 0,
            "mime_type": voice.mime_type,
            "file_size": len(voice.data),
        }
    return item


def _rendered(msg: StoredMessage) -> str | None:
    if msg.text is not None:
        return render_html(msg.text, msg.entities)
    if msg.caption is not None:
        return render_html(msg.caption, msg.caption_entities)
    return None


def _service(msg: StoredMessage) -> dict[str, Any] | None:
    if not msg.service:
        return None
    out: dict[str, Any] = {}
    for key, value in msg.service.items():
        if key == "new_chat_members":
            out[key] = [obj.user_json(u) for u in value]
        elif key == "left_chat_member":
            out[key] = obj.user_json(value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------- routes
class ControlApi:
    def __init__(self, standin: StandIn) -> None:
        self.s = standin

    @property
    def world(self) -> World:
        return self.s.world

    def routes(self) -> list[web.RouteDef]:
        g, p = web.get, web.post
        table = [
            p("/bots", self.add_bot),
            g("/bots", self.list_bots),
            p("/users", self.add_user),
            g("/users", self.list_users),
            p("/chats", self.add_chat),
            g("/chats", self.list_chats),
            p("/chats/{chat_id}/members", self.join),
            p("/bot_membership", self.bot_membership),
            p("/messages", self.message),
            p("/photos", self.photo),
            p("/documents", self.document),
            p("/voices", self.voice),
            p("/location", self.location),
            p("/taps", self.tap),
            p("/poll_answers", self.poll_answer),
            p("/reactions", self.reaction),
            p("/blocks", self.block),
            g("/transcript", self.transcript),
            g("/files/{file_id}", self.file),
            g("/toasts", self.toasts),
            g("/menu", self.menu),
            g("/wait", self.wait),
            g("/cursor", self.cursor),
            g("/clock", self.clock),
            p("/limits", self.set_limits),
            g("/limits", self.get_limits),
            p("/faults", self.set_faults),
            p("/faults/once", self.add_fault),
            g("/faults", self.get_faults),
            g("/stats", self.stats),
            p("/settle", self.settle),
            p("/reset", self.reset),
        ]
        return [web.route(r.method, PREFIX + r.path, _guard(r.handler)) for r in table]  # type: ignore[attr-defined,arg-type]

    # -------------------------------------------------------------- actors
    async def add_bot(self, request: web.Request) -> Any:
        b = await _body(request)
        bot = self.s.create_bot(str(b["token"]), str(b["username"]), str(b.get("first_name", b["username"])))
        return obj.user_json(bot.user)

    async def list_bots(self, request: web.Request) -> Any:
        return [
            {
                **obj.user_json(bot.user),
                "token": bot.token,
                "webhook_url": bot.webhook_url,
                "pending": bot.pending(),
                "allowed_updates": bot.allowed_updates,
                "commands": [
                    {"scope": json.loads(k[0]), "language_code": k[1], "commands": v}
                    for k, v in bot.commands.items()
                ],
                "menu_buttons": {str(k): v for k, v in bot.menu_buttons.items()},
            }
            for bot in self.world.bots.values()
        ]

    async def add_user(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.world.add_user(
            str(b["first_name"]),
            id=_opt_int(b.get("id"), "id"),
            last_name=b.get("last_name"),
            username=b.get("username"),
            language_code=b.get("language_code", "zh-hans"),
        )
        return obj.user_json(user)

    async def list_users(self, request: web.Request) -> Any:
        return [obj.user_json(u) for u in self.world.users.values()]

    async def add_chat(self, request: web.Request) -> Any:
        b = await _body(request)
        chat = self.world.add_group(
            str(b.get("title", "Group")),
            type=b.get("type", "supergroup"),
            id=_opt_int(b.get("id"), "id"),
            member_ids=[_int(x, "member_ids") for x in b.get("member_ids", [])],
            admin_ids=[_int(x, "admin_ids") for x in b.get("admin_ids", [])],
            owner_id=_opt_int(b.get("owner_id"), "owner_id"),
        )
        return chat_summary(chat, self.world)

    async def list_chats(self, request: web.Request) -> Any:
        chats = list(self.world.groups.values()) + list(self.world.privates.values())
        return [chat_summary(c, self.world) for c in chats]

    async def join(self, request: web.Request) -> Any:
        b = await _body(request)
        return self.s.actions.join(
            _int(request.match_info["chat_id"], "chat_id"), _int(b["user_id"], "user_id")
        )

    async def bot_membership(self, request: web.Request) -> Any:
        b = await _body(request)
        return self.s.actions.set_bot_membership(
            _int(b["chat_id"], "chat_id"), str(b["status"]), _int(b["by_user_id"], "by_user_id"), b.get("bot")
        )

    # -------------------------------------------------------------- user actions
    async def message(self, request: web.Request) -> Any:
        b = await _body(request)
        msg = self.s.actions.send_text(
            _int(b["user_id"], "user_id"),
            str(b["text"]),
            chat_id=_opt_int(b.get("chat_id"), "chat_id"),
            reply_to_message_id=_opt_int(b.get("reply_to_message_id"), "reply_to_message_id"),
            bot=b.get("bot"),
        )
        return obj.message_json(msg, self.world)

    async def _upload(self, request: web.Request) -> tuple[dict[str, Any], bytes, str, str | None]:
        """Multipart (fields + "file" part) or JSON with base64 "data"."""
        if request.content_type == "multipart/form-data":
            form = await request.post()
            fields = {k: v for k, v in form.items() if not isinstance(v, web.FileField)}
            part = form.get("file")
            if not isinstance(part, web.FileField):
                raise ValueError('multipart body needs a "file" part')
            return fields, part.file.read(), part.filename or "file", part.content_type
        b = await _body(request)
        try:
            data = base64.b64decode(b["data"], validate=True)
        except (binascii.Error, TypeError):
            raise ValueError("data must be base64") from None
        return b, data, str(b.get("file_name", "file")), b.get("mime_type")

    async def photo(self, request: web.Request) -> Any:
        fields, data, _, _ = await self._upload(request)
        msg = self.s.actions.send_photo(
            _int(fields["user_id"], "user_id"),
            data,
            chat_id=_opt_int(fields.get("chat_id"), "chat_id"),
            caption=fields.get("caption"),
            bot=fields.get("bot"),
        )
        return obj.message_json(msg, self.world)

    async def document(self, request: web.Request) -> Any:
        fields, data, name, mime = await self._upload(request)
        msg = self.s.actions.send_document(
            _int(fields["user_id"], "user_id"),
            data,
            str(fields.get("file_name", name)),
            mime,
            chat_id=_opt_int(fields.get("chat_id"), "chat_id"),
            caption=fields.get("caption"),
            bot=fields.get("bot"),
        )
        return obj.message_json(msg, self.world)

    async def voice(self, request: web.Request) -> Any:
        fields, data, _, _ = await self._upload(request)
        msg = self.s.actions.send_voice(
            _int(fields["user_id"], "user_id"),
            data,
            _int(fields["duration"], "duration"),
            chat_id=_opt_int(fields.get("chat_id"), "chat_id"),
            caption=fields.get("caption"),
            bot=fields.get("bot"),
        )
        return obj.message_json(msg, self.world)

    async def location(self, request: web.Request) -> Any:
        b = await _body(request)
        msg = self.s.actions.send_location(
            _int(b["user_id"], "user_id"),
            float(b["latitude"]),
            float(b["longitude"]),
            chat_id=_opt_int(b.get("chat_id"), "chat_id"),
            bot=b.get("bot"),
        )
        return obj.message_json(msg, self.world)

    async def tap(self, request: web.Request) -> Any:
        b = await _body(request)
        return await self.s.actions.tap(
            _int(b["user_id"], "user_id"),
            _int(b["chat_id"], "chat_id"),
            _int(b["message_id"], "message_id"),
            data=b.get("data"),
            text=b.get("text"),
            forge=bool(b.get("forge", False)),
            wait=float(b.get("wait", 3.0)),
            bot=b.get("bot"),
        )

    async def poll_answer(self, request: web.Request) -> Any:
        b = await _body(request)
        options = [_int(x, "option_ids") for x in b.get("option_ids", [])]
        return self.s.actions.answer_poll(_int(b["user_id"], "user_id"), str(b["poll_id"]), options)

    async def reaction(self, request: web.Request) -> Any:
        b = await _body(request)
        return self.s.actions.react(
            _int(b["user_id"], "user_id"),
            _int(b["chat_id"], "chat_id"),
            _int(b["message_id"], "message_id"),
            b.get("emoji", []),
            bot=b.get("bot"),
        )

    async def block(self, request: web.Request) -> Any:
        b = await _body(request)
        return self.s.actions.block(
            _int(b["user_id"], "user_id"), bool(b.get("blocked", True)), bot=b.get("bot")
        )

    # -------------------------------------------------------------- observation
    def _chat_key(self, chat_id: int, bot_ref: str | None) -> tuple[int, int]:
        if chat_id < 0:
            return (0, chat_id)
        return (self.world.bot(bot_ref).id, chat_id)

    async def transcript(self, request: web.Request) -> Any:
        q = request.query
        since = _int(q.get("since", 0), "since")
        chat_id = _opt_int(q.get("chat_id"), "chat_id")
        key = None if chat_id is None else self._chat_key(chat_id, q.get("bot"))
        messages = self.world.changed_since(since, key)
        return {"messages": [transcript_item(m, self.world) for m in messages], "cursor": self.world.seq}

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.world.files.get(request.match_info["file_id"])
        if stored is None:
            return _reply({"error": "no such file"}, 404)
        return file_response(stored)

    async def menu(self, request: web.Request) -> Any:
        """The command menu a user sees in a chat (their private chat by default), as Telegram picks it."""
        user_id = _int(request.query.get("user_id"), "user_id")
        chat_id = _opt_int(request.query.get("chat_id"), "chat_id")
        return commands.menu_for(self.world, self.world.bot(request.query.get("bot")), user_id, chat_id)

    async def toasts(self, request: web.Request) -> Any:
        user_id = _opt_int(request.query.get("user_id"), "user_id")
        if user_id is None:
            toasts = [t for items in self.world.toasts.values() for t in items]
            toasts.sort(key=lambda t: t.date)
        else:
            toasts = list(self.world.toasts.get(user_id, []))
        return [
            {**toast_json(t), "user_id": t.user_id, "callback_query_id": t.callback_query_id}
            for t in reversed(toasts)
        ]

    async def wait(self, request: web.Request) -> Any:
        since = _int(request.query.get("since", 0), "since")
        timeout = min(float(request.query.get("timeout", 25)), 120.0)
        loop_deadline = timeout
        while self.world.seq <= since and loop_deadline > 0:
            started = request.loop.time()
            await self.world.changed.wait(loop_deadline)
            loop_deadline -= request.loop.time() - started
        return {"cursor": self.world.seq, "changed": self.world.seq > since, "clock": self._clock()}

    async def cursor(self, request: web.Request) -> Any:
        return {"cursor": self.world.seq}

    async def clock(self, request: web.Request) -> Any:
        """The time messages are stamped with (the sandbox's clock, when it has one) and the zone to show it in."""
        return self._clock()

    def _clock(self) -> dict[str, Any]:
        return {"now": self.world.clock(), "timezone": self.world.timezone}

    # -------------------------------------------------------------- knobs
    async def set_limits(self, request: web.Request) -> Any:
        self.s.limits.update(await _body(request))
        return self.s.limits.as_dict()

    async def get_limits(self, request: web.Request) -> Any:
        return self.s.limits.as_dict()

    async def set_faults(self, request: web.Request) -> Any:
        b = await _body(request)
        allowed = set(Faults.__dataclass_fields__)
        unknown = set(b) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        faults = Faults(**b)
        self.s.faults.configure(faults)
        return faults.as_dict()

    async def add_fault(self, request: web.Request) -> Any:
        """One fault for the next matching call, the rates left as they are."""
        self.s.faults.add_once(await _body(request))
        return self.s.faults.faults.as_dict()

    async def get_faults(self, request: web.Request) -> Any:
        return self.s.faults.faults.as_dict()

    async def stats(self, request: web.Request) -> Any:
        return {
            **self.s.stats.as_dict(),
            "cursor": self.world.seq,
            "pending_updates": {b.user.username: b.pending() for b in self.world.bots.values()},
        }

    async def settle(self, request: web.Request) -> Any:
        b = await _body(request)
        settled = await self.s.settle(float(b.get("quiet_ms", 150)), float(b.get("timeout", 10)))
        return {"settled": settled}

    async def reset(self, request: web.Request) -> Any:
        self.s.reset()
        return {"ok": True}


def setup(app: web.Application, standin: StandIn) -> None:
    app.router.add_routes(ControlApi(standin).routes())
