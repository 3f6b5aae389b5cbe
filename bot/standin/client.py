"""Async client of the stand-in's control API, with transcript helpers for tests."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp


class ControlError(RuntimeError):
    """The control API answered 4xx/5xx."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error


class StandInClient:
    """``async with StandInClient(url) as c: await c.say(user_id, "/start")``."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> StandInClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=130))
        return self._session

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/_control/{path}"
        async with self.session.request(method, url, **kwargs) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise ControlError(
                    resp.status, body.get("error", str(body)) if isinstance(body, dict) else str(body)
                )
            return body

    async def _post(self, path: str, **payload: Any) -> Any:
        return await self._request("POST", path, json={k: v for k, v in payload.items() if v is not None})

    async def _get(self, path: str, **query: Any) -> Any:
        return await self._request("GET", path, params={k: str(v) for k, v in query.items() if v is not None})

    # ------------------------------------------------------------------ actors
    async def add_bot(self, token: str, username: str, first_name: str | None = None) -> dict[str, Any]:
        return await self._post("bots", token=token, username=username, first_name=first_name or username)

    async def bots(self) -> list[dict[str, Any]]:
        return await self._get("bots")

    async def create_user(
        self,
        first_name: str,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        return await self._post(
            "users",
            first_name=first_name,
            id=id,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )

    async def users(self) -> list[dict[str, Any]]:
        return await self._get("users")

    async def create_chat(
        self,
        title: str,
        member_ids: list[int] | None = None,
        type: str = "supergroup",
        id: int | None = None,
        admin_ids: list[int] | None = None,
        owner_id: int | None = None,
    ) -> dict[str, Any]:
        return await self._post(
            "chats",
            title=title,
            member_ids=member_ids or [],
            type=type,
            id=id,
            admin_ids=admin_ids,
            owner_id=owner_id,
        )

    async def chats(self) -> list[dict[str, Any]]:
        return await self._get("chats")

    async def join(self, chat_id: int, user_id: int) -> dict[str, Any]:
        return await self._post(f"chats/{chat_id}/members", user_id=user_id)

    async def set_bot_membership(
        self, chat_id: int, status: str, by_user_id: int, bot: str | None = None
    ) -> dict[str, Any]:
        return await self._post(
            "bot_membership", chat_id=chat_id, status=status, by_user_id=by_user_id, bot=bot
        )

    # ------------------------------------------------------------------ user actions
    async def send(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        bot: str | None = None,
    ) -> dict[str, Any]:
        return await self._post(
            "messages",
            user_id=user_id,
            text=text,
            chat_id=chat_id,
            reply_to_message_id=reply_to_message_id,
            bot=bot,
        )

    async def send_photo(
        self,
        user_id: int,
        photo: str | Path | bytes,
        chat_id: int | None = None,
        caption: str | None = None,
        bot: str | None = None,
    ) -> dict[str, Any]:
        data = photo if isinstance(photo, bytes) else Path(photo).read_bytes()
        return await self._post(
            "photos",
            user_id=user_id,
            chat_id=chat_id,
            caption=caption,
            bot=bot,
            data=base64.b64encode(data).decode(),
        )

    async def send_document(
        self,
        user_id: int,
        document: str | Path | bytes,
        file_name: str | None = None,
        chat_id: int | None = None,
        caption: str | None = None,
        mime_type: str | None = None,
        bot: str | None = None,
    ) -> dict[str, Any]:
        if isinstance(document, bytes):
            data, name = document, file_name or "file.bin"
        else:
            data, name = Path(document).read_bytes(), file_name or Path(document).name
        return await self._post(
            "documents",
            user_id=user_id,
            chat_id=chat_id,
            caption=caption,
            file_name=name,
            mime_type=mime_type,
            bot=bot,
            data=base64.b64encode(data).decode(),
        )

    async def send_voice(
        self,
        user_id: int,
        voice: str | Path | bytes,
        duration: int,
        chat_id: int | None = None,
        caption: str | None = None,
        bot: str | None = None,
    ) -> dict[str, Any]:
        """The user records a voice note (OGG/Opus bytes or a file) of ``duration`` seconds."""
        data = voice if isinstance(voice, bytes) else Path(voice).read_bytes()
        return await self._post(
            "voices",
            user_id=user_id,
            chat_id=chat_id,
            duration=duration,
            caption=caption,
            bot=bot,
            data=base64.b64encode(data).decode(),
        )

    async def send_location(
        self, user_id: int, latitude: float, longitude: float, chat_id: int | None = None
    ) -> dict[str, Any]:
        return await self._post(
            "location", user_id=user_id, latitude=latitude, longitude=longitude, chat_id=chat_id
        )

    async def tap(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str | None = None,
        text: str | None = None,
        forge: bool = False,
        wait: float = 3.0,
    ) -> dict[str, Any]:
        """Press an inline button by callback ``data`` or by its visible ``text``."""
        return await self._post(
            "taps",
            user_id=user_id,
            chat_id=chat_id,
            message_id=message_id,
            data=data,
            text=text,
            forge=forge,
            wait=wait,
        )

    async def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> dict[str, Any]:
        return await self._post("poll_answers", user_id=user_id, poll_id=poll_id, option_ids=option_ids)

    async def react(
        self, user_id: int, chat_id: int, message_id: int, emoji: str | list[str]
    ) -> dict[str, Any]:
        return await self._post(
            "reactions", user_id=user_id, chat_id=chat_id, message_id=message_id, emoji=emoji
        )

    async def block(self, user_id: int, blocked: bool = True) -> dict[str, Any]:
        return await self._post("blocks", user_id=user_id, blocked=blocked)

    # ------------------------------------------------------------------ observation & knobs
    async def transcript(self, chat_id: int | None = None, since: int = 0) -> dict[str, Any]:
        return await self._get("transcript", chat_id=chat_id, since=since)

    async def cursor(self) -> int:
        return (await self._get("cursor"))["cursor"]

    async def menu(self, user_id: int, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The command menu ``user_id`` sees in ``chat_id`` (their private chat with the bot by default)."""
        return await self._get("menu", user_id=user_id, chat_id=chat_id)

    async def toasts(self, user_id: int | None = None) -> list[dict[str, Any]]:
        return await self._get("toasts", user_id=user_id)

    async def file_bytes(self, file_id: str) -> bytes:
        async with self.session.get(f"{self.base_url}/_control/files/{file_id}") as resp:
            if resp.status != 200:
                raise ControlError(resp.status, "no such file")
            return await resp.read()

    async def wait(self, since: int, timeout: float = 25) -> dict[str, Any]:
        return await self._get("wait", since=since, timeout=timeout)

    async def settle(self, quiet_ms: int = 150, timeout: float = 10) -> bool:
        return (await self._post("settle", quiet_ms=quiet_ms, timeout=timeout))["settled"]

    async def set_limits(self, **limits: Any) -> dict[str, Any]:
        return await self._post("limits", **limits)

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        return await self._request("POST", "faults", json=faults)

    async def add_fault(self, kind: str, **where: Any) -> dict[str, Any]:
        """A one-shot fault for the next matching call (method=…, chat_id=…, delay=…)."""
        return await self._post("faults/once", kind=kind, **where)

    async def stats(self) -> dict[str, Any]:
        return await self._get("stats")

    async def reset(self) -> None:
        await self._post("reset")

    # ------------------------------------------------------------------ test helpers
    async def bot_messages(self, chat_id: int, since: int = 0) -> list[dict[str, Any]]:
        """The bot's messages in ``chat_id`` created or changed after cursor ``since``."""
        items = (await self.transcript(chat_id, since))["messages"]
        return [m for m in items if m["is_bot"] and m["kind"] != "service"]

    async def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        live = [m for m in await self.bot_messages(chat_id) if not m["deleted"]]
        return max(live, key=lambda m: m["message_id"]) if live else None

    async def say(self, user_id: int, text: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Send ``text`` as the user, wait for the bot to settle, return its new/changed messages."""
        before = await self.cursor()
        await self.send(user_id, text, chat_id=chat_id)
        await self.settle()
        return await self.bot_messages(chat_id if chat_id is not None else user_id, before)

    async def press(
        self, user_id: int, chat_id: int, message_id: int, button_text: str
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Tap the button whose text contains ``button_text``; return (toast or None, new bot messages)."""
        before = await self.cursor()
        result = await self.tap(user_id, chat_id, message_id, text=button_text)
        await self.settle()
        return result["answer"], await self.bot_messages(chat_id, before)

    @staticmethod
    def find_button(message: dict[str, Any], text_contains: str) -> str:
        """callback_data of the first inline button whose text contains ``text_contains``."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for row in rows:
            for button in row:
                if text_contains in button.get("text", "") and "callback_data" in button:
                    return button["callback_data"]
        raise LookupError(f"no button containing {text_contains!r}")
