"""What both Telegram runtimes share: command menus and the per-update pipeline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.core.convert import event_from_update
from bot.core.delivery import deliver
from bot.core.dispatch import ANYWHERE, GROUP, PRIVATE, Core
from bot.core.gateway import ApiError, BotCommand, Gateway
from bot.core.i18n import tr
from bot.core.types import Reply
from flows.roles import Perm

log = logging.getLogger("linli.runtime")

#: scope → (where the command works, permissions that still show it in the menu)
MENU_SCOPES: dict[str, tuple[str, frozenset[Perm]]] = {
    "all_private_chats": (PRIVATE, frozenset()),
    "all_group_chats": (GROUP, frozenset()),
    # a group's Telegram admins are mostly the community's staff: /link and /poll in their menu (checked anyway)
    "all_chat_administrators": (GROUP, frozenset({Perm.LINK_CHAT, Perm.POLL})),
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
            committed = False
            try:
                async with lock:
                    replies = await self.core.handle(event)
                    committed = True
                    # committed: its answer goes out and is marked sent even when the update is cut off now (a
                    # stop's grace ran out) — cut off between a call and the mark, it was sent again when the
                    # update came again; before the call, marked sent and never sent. Each call is bounded.
                    delivering = asyncio.ensure_future(self._deliver(replies))
                    try:
                        await asyncio.shield(delivering)
                    except asyncio.CancelledError:
                        await _finish(delivering, event.update_id)
                        raise
            finally:
                lock, users = self._chats[key]
                if users == 1:
                    del self._chats[key]
                else:
                    self._chats[key] = (lock, users - 1)
                if committed:
                    # outside the chat's lock: the chat's next update may start meanwhile, and its transaction
                    # is likely to write this mark (flows/updates.py); marked when the answer failed too
                    marking = asyncio.ensure_future(self.core.sent(event.update_id))
                    try:
                        await asyncio.shield(marking)
                    except asyncio.CancelledError:
                        await _finish(marking, event.update_id)
                        raise
        finally:
            self.in_flight -= 1

    async def _deliver(self, replies: list[Reply]) -> None:
        await deliver(replies, self.gateway, db=self.core.db, clock=self.core.clock, sealer=self.core.sealer,
                      on_outbox=self.core.on_outbox)


async def _finish(task: asyncio.Future[None], update_id: int) -> None:
    """Let a shielded step of a committed update end although the update is cut off; its own failure is logged
    (the cut-off goes on either way)."""
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        log.warning("update %s: its answer or mark failed while it was cut off: %r", update_id, task.exception())


#: getUpdates through a framework's client: (offset, long-poll seconds, limit) → raw updates (Bot API dicts)
Fetch = Callable[[int | None, int, int], Awaitable[list[dict[str, Any]]]]


class Poller:
    """Long polling that confirms an update to Telegram only once its handling finished.

    Telegram forgets every update below the `offset` of the next getUpdates. The frameworks' own loops
    pass the offset past a batch as soon as they fetched it, so an update that was being handled when the
    process died, or whose transaction failed, was gone. Here the offset is the lowest update id that is
    not finished yet: updates are handled concurrently (those of one chat in order, by the Pipeline), and
    after a crash the unfinished ones come again (the finished ones too, which `flows/updates.py` skips).

    Asking again from an unfinished update returns at once every update still at work, which the bot then reads
    for nothing (under load, asking after each finished update read each update some 27 times). So while updates
    are at work the loop asks again only once half of those in hand finished, or after `idle` seconds (an update
    that takes long does not keep new ones waiting longer than that): each update comes about twice. At most
    `limit` updates from the lowest unfinished one on are in hand at a time."""

    def __init__(self, fetch: Fetch, process: Callable[[dict[str, Any]], Awaitable[None]], *,
                 timeout: int = 10, limit: int = 100, grace: float = 10.0, idle: float = 0.2) -> None:
        self.fetch = fetch
        self.process = process
        self.timeout = timeout
        self.limit = limit
        self.grace = grace  # seconds a stop waits for updates at work before cutting them off
        self.idle = idle
        self.working: dict[int, asyncio.Task[None]] = {}  # update id → its handling
        self.finished: set[int] = set()  # finished ids at or above the offset (Telegram may return them again)
        self.confirmed: int | None = None  # the offset Telegram was last given
        self.newest: int | None = None  # the highest update id received
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def offset(self) -> int | None:
        """The next getUpdates' offset: the lowest update not finished yet."""
        if self.working:
            return min(self.working)
        return None if self.newest is None else self.newest + 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="polling")

    async def _run(self) -> None:
        pause = 1.0
        while not self._stopping:
            offset = self.offset()
            self._changed.clear()  # set again by any update finishing from now on
            try:
                # long-poll only when nothing is at work: otherwise Telegram answers at once with those
                got = await self.fetch(offset, 0 if self.working else self.timeout, self.limit)
            except ApiError as err:
                log.warning("getUpdates failed (%s): %s; polling again in %.0f s", err.kind, err.description[:200],
                            pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            except Exception as exc:  # a framework error we do not map: keep polling, never die silently
                log.warning("getUpdates failed (%s); polling again in %.0f s", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            self.confirmed = offset
            self.finished = {i for i in self.finished if offset is None or i >= offset}
            fresh = [u for u in got if u["update_id"] not in self.working and u["update_id"] not in self.finished]
            for update in fresh:
                uid = int(update["update_id"])
                self.newest = uid if self.newest is None else max(self.newest, uid)
                self.working[uid] = asyncio.create_task(self._handle(uid, update), name=f"update-{uid}")
            await self._half_finished()

    async def _half_finished(self) -> None:
        """Until half of the updates in hand finished (all of one, say), or `idle` seconds passed."""
        left = len(self.working) // 2
        deadline = asyncio.get_running_loop().time() + self.idle
        while len(self.working) > left:
            self._changed.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    async def _handle(self, uid: int, update: dict[str, Any]) -> None:
        try:
            await self.process(update)
        except asyncio.CancelledError:
            raise  # cut off by a stop: it stays among those at work, so the offset stays below it
        except Exception as exc:
            # not a database outage (the core waits those out): a bug that would fail again; confirmed,
            # so that one bad update cannot hold back every other one
            log.error("update %s failed (%s)", uid, type(exc).__name__, exc_info=exc)
        self.working.pop(uid, None)
        self.finished.add(uid)
        self._changed.set()

    async def stop(self) -> None:
        """Stop polling; updates at work get `grace` seconds, then those still unfinished are left to Telegram
        (delivered again on the next start). What finished is confirmed, if Telegram answers quickly."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self.working:
            _, late = await asyncio.wait(list(self.working.values()), timeout=self.grace)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d update(s) not finished at the stop: Telegram delivers them again", len(late))
                await asyncio.wait(late)
        offset = self.offset()
        if offset is not None and offset != self.confirmed:
            try:
                await asyncio.wait_for(self.fetch(offset, 0, 1), 5)
                self.confirmed = offset
            except Exception as exc:  # harmless: what finished but was not confirmed is skipped when it comes again
                log.info("could not confirm the last updates at the stop (%s)", type(exc).__name__)


class PollingRuntime:
    """What both runtimes share around the Poller: start it on a framework's getUpdates, say whether it runs,
    stop it (this process lost the poller role, or is stopping)."""

    _poller: Poller | None = None

    def _poll(self, fetch: Fetch, process: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._poller = Poller(fetch, process)
        self._poller.start()

    @property
    def polling(self) -> bool:
        return self._poller is not None

    async def stop_polling(self) -> None:
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None


class Runtime(Protocol):
    gateway: Gateway

    async def start(self, pipeline: Pipeline, *, webhook_url: str, webhook_secret: str) -> None: ...

    async def feed_webhook(self, update: dict[str, Any]) -> None: ...

    @property
    def polling(self) -> bool:
        """Whether this process calls getUpdates now."""
        ...

    async def stop_polling(self) -> None:
        """Stop calling getUpdates (this process lost the poller role); `start` polls again."""
        ...

    async def stop(self) -> None: ...
