"""What both Telegram runtimes share: command menus and the per-update pipeline."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bot.core.convert import event_from_update
from bot.core.delivery import deliver
from bot.core.dispatch import ANYWHERE, GROUP, PRIVATE, Core
from bot.core.gateway import BotCommand, Gateway
from bot.core.i18n import tr
from flows.roles import Perm

log = logging.getLogger("linli.runtime")

#: scope → (where the command works, permissions that still show it in the menu)
MENU_SCOPES: dict[str, tuple[str, frozenset[Perm]]] = {
    "all_private_chats": (PRIVATE, frozenset()),
    "all_group_chats": (GROUP, frozenset()),
    "all_chat_administrators": (GROUP, frozenset({Perm.LINK_CHAT})),
}
MENU_LANGUAGES: dict[str | None, str] = {None: "zh_CN", "zh": "zh_CN", "en": "en"}


def menus(core: Core) -> list[tuple[str, str | None, list[BotCommand]]]:
    """Every (scope, language, commands) the bot sets; the same for both runtimes."""
    out = []
    for scope, (where, perms) in MENU_SCOPES.items():
        for code, lang in MENU_LANGUAGES.items():
            cmds = [
                BotCommand(spec.name, tr(lang, spec.description)[:256])
                for spec in core.router.commands.values()
                if spec.menu and spec.where in (where, ANYWHERE) and (spec.perm is None or spec.perm in perms)
            ]
            out.append((scope, code, cmds))
    return out


async def set_menus(core: Core, gateway: Gateway) -> None:
    for scope, code, cmds in menus(core):
        await gateway.set_commands(cmds, scope, code)


class Pipeline:
    """update dict → event → core → replies → gateway; wakes the outbox sender when needed."""

    def __init__(self, core: Core, gateway: Gateway) -> None:
        self.core = core
        self.gateway = gateway
        self.in_flight = 0  # updates being handled now (tests and graceful stops wait for 0)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat → (lock, updates holding or waiting)

    async def process(self, update: dict[str, Any]) -> None:
        """Handle one update. Both runtimes handle updates concurrently; those of one chat are
        taken one at a time, in the order they arrived, so a chat never sees its steps swapped."""
        self.in_flight += 1
        try:
            event = event_from_update(update, self.core.bot_username)
            if event is None:
                return
            key = event.chat.id if event.chat else (event.user.id if event.user else 0)
            lock, users = self._chats.get(key) or (asyncio.Lock(), 0)
            self._chats[key] = (lock, users + 1)
            try:
                async with lock:
                    replies = await self.core.handle(event)
                    await deliver(replies, self.gateway, db=self.core.db, clock=self.core.clock,
                                  sealer=self.core.sealer, on_outbox=self.core.on_outbox)
            finally:
                lock, users = self._chats[key]
                if users == 1:
                    del self._chats[key]
                else:
                    self._chats[key] = (lock, users - 1)
        finally:
            self.in_flight -= 1


class Runtime(Protocol):
    gateway: Gateway

    async def start(self, pipeline: Pipeline, *, webhook_url: str, webhook_secret: str) -> None: ...

    async def feed_webhook(self, update: dict[str, Any]) -> None: ...

    async def stop_polling(self) -> None:
        """Stop calling getUpdates (this process lost the poller role); `start` polls again."""
        ...

    async def stop(self) -> None: ...
