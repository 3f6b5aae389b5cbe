"""Putting the pieces together: settings → database → core → runtime → outbox sender → scheduler.

`LinliApp` is created per process (nothing is a process-wide singleton), so a test can run
several against one stand-in, and the sandbox runs one beside the stand-in."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import heap
from bot.config import Settings
from bot.core.dispatch import Core, Router
from bot.election import Elector, Role
from bot.handlers import FALLBACKS, build_notices, build_router, report_error
from bot.menus import MenuOp
from bot.outbox import Limits, OutboxSender
from bot.render import NoticeRenderer
from bot.runtimes.base import Pipeline, Runtime, set_menus
from flows import menus
from flows.clock import Clock, SystemClock
from flows.throttle import Throttle
from scheduler.runner import Scheduler
from storage.db import Database
from storage.leases import holder_name, role_locks
from storage.migrate import check_current

if TYPE_CHECKING:
    from web.app import WebServer

log = logging.getLogger("linli.app")


def make_runtime(settings: Settings) -> Runtime:
    if not settings.bot_token:
        raise SystemExit("LINLI_BOT_TOKEN is not set (or run `linli sandbox` to try Linli without Telegram)")
    if settings.runtime == "aiogram":
        from bot.runtimes.aiogram_rt import AiogramRuntime

        return AiogramRuntime(settings.bot_token, settings.bot_api_url, call_timeout=settings.telegram_call_timeout)
    if settings.runtime == "ptb":
        from bot.runtimes.ptb_rt import PtbRuntime

        return PtbRuntime(settings.bot_token, settings.bot_api_url, call_timeout=settings.telegram_call_timeout)
    raise SystemExit(f"unknown LINLI_RUNTIME {settings.runtime!r}: use aiogram or ptb")


class LinliApp:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, run_scheduler: bool | None = None,
                 run_sender: bool | None = None, extra_router: Router | None = None, serve_board: bool = False
                 ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database_url)
        self.secret = settings.secret()
        router = build_router()
        if extra_router is not None:
            router.include(extra_router)
        self.core = Core(
            db=self.db, clock=self.clock, secret=self.secret, router=router, errors=report_error,
            fallbacks=FALLBACKS, button_ttl=timedelta(hours=settings.button_ttl_hours),
            previous_secrets=settings.previous_secrets(),
        )
        self.core.throttle = Throttle() if settings.throttle else None
        self.core.needs_per_member = settings.needs_per_member
        self.core.public_url = settings.public_url
        self.runtime: Runtime | None = None
        self.sender: OutboxSender | None = None
        self.scheduler: Scheduler | None = None
        self.pipeline: Pipeline | None = None
        self.web: WebServer | None = None
        # the public board on WEB_HOST:WEB_PORT (`linli run` and the sandbox ask for it; tests usually do not)
        self._serve_board = serve_board and settings.web_board
        self._run_scheduler = settings.run_scheduler if run_scheduler is None else run_scheduler
        self._run_sender = settings.run_sender if run_sender is None else run_sender
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.elector: Elector | None = None

    async def start(self) -> None:
        self.settings.check_webhook()
        self.settings.check_redis()
        check_current(self.settings.database_url)
        self.runtime = make_runtime(self.settings)
        gateway = self.runtime.gateway
        _, username = await gateway.me()
        self.core.bot_username = username
        if self.settings.redis_url and self.core.throttle is not None:
            from bot.shared_throttle import SharedThrottle

            # one namespace per bot: several bots may share a Redis
            self.core.shared_throttle = SharedThrottle(self.settings.redis_url, prefix=f"linli:{username}:throttle:",
                                                       local=self.core.throttle)
        render = NoticeRenderer(secret=self.secret, clock=self.clock, bot_username=username,
                                button_ttl=self.core.button_ttl, extra=build_notices())
        self.sender = OutboxSender(
            db=self.db, gateway=gateway, clock=self.clock, render=render,
            limits=Limits(self.settings.outbox_rate, self.settings.outbox_per_chat,
                          self.settings.outbox_per_group_minute),
            concurrency=self.settings.outbox_concurrency, sealer=self.core.sealer,
            lease=self._role_lease(),  # a claim lasts as long as the sender role would without renewal
            ops={menus.OP: MenuOp(self.core.router.commands)},
        )
        self.core.on_outbox = self.sender.wake
        await set_menus(self.core, gateway)
        self.pipeline = Pipeline(self.core, gateway)
        if self.settings.webhook_url or self._serve_board:
            from web.app import WebServer

            self.web = WebServer(self.settings, self.runtime if self.settings.webhook_url else None,
                                 board=self._public_board() if self._serve_board else None)
            await self.web.start()  # listening before Telegram is told where to post
        if self.settings.webhook_url:
            await self.runtime.start(self.pipeline, webhook_url=self.settings.webhook_url,
                                     webhook_secret=self.settings.webhook_secret)
        await self._elect()  # long polling: the poller role starts it
        log.info("Linli is running as @%s (%s runtime, %s)", username, self.settings.runtime,
                 "webhook" if self.settings.webhook_url else "long polling")

    def _public_board(self) -> Any:
        from pathlib import Path

        from web.board import PublicBoard
        from web.media import BotFiles, MediaCache

        files = BotFiles(self.settings.bot_token, self.settings.bot_api_url, timeout=self.settings.telegram_call_timeout)
        return PublicBoard(db=self.db, clock=self.clock, media=MediaCache(Path(self.settings.media_dir), files),
                           public_url=self.settings.public_url, cache_seconds=self.settings.board_cache_seconds)

    async def _elect(self) -> None:
        """The sender, the scheduler and the long poll run only while this process holds their role
        (bot/election.py): any number of processes may run on one database, exactly one sends, one schedules
        and (without a webhook) one polls."""
        roles = []
        if not self.settings.webhook_url and self.settings.run_poller:  # two pollers would fight (409)
            roles.append(Role("poller", self._start_polling, self._stop_polling))
        if self._run_sender:
            assert self.sender is not None
            roles.append(self.sender.role())  # started elected: it takes back previous holders' rows at once
        if self._run_scheduler:
            roles.append(Role("scheduler", self._start_scheduler, self._stop_scheduler))
        if not roles:
            return
        every = self.settings.role_check_seconds
        locks = role_locks(self.db, holder_name(f"{id(self):x}"[-6:]), lease=self._role_lease(),
                           # the database's answer is awaited at least 3 s: a busy machine took over 1 s to open the
                           # lock's connection, and the process then held nothing after its start
                           check_timeout=min(5.0, max(3.0, every)))
        self.elector = Elector(locks, roles, every=every)
        await self.elector.step()  # a lone process holds its roles before it answers anybody
        self._tasks.append(asyncio.create_task(self.elector.run(self._stop), name="roles"))

    def _role_lease(self) -> timedelta:
        """A role's lease (SQLite), and an outbox claim's: it outlives a missed renewal or two."""
        return timedelta(seconds=max(self.settings.role_lease_seconds, 3 * self.settings.role_check_seconds))

    async def _start_polling(self) -> None:
        assert self.runtime is not None and self.pipeline is not None
        await self.runtime.start(self.pipeline, webhook_url="", webhook_secret="")

    async def _stop_polling(self) -> None:
        assert self.runtime is not None
        await self.runtime.stop_polling()

    async def _start_scheduler(self) -> None:
        assert self.sender is not None
        self.scheduler = Scheduler(self.settings.database_url, db=self.db, clock=self.clock,
                                   on_outbox=self.sender.wake, ballot_key=self.core.ballot_key,
                                   outbox_retention=timedelta(days=self.settings.outbox_retention_days))
        if self.db.write_lock is None:
            self.scheduler.start()
            return
        # APScheduler writes its SQLite job store synchronously, on this loop: were one of our own transactions
        # holding SQLite's write lock meanwhile, it could not finish and both would wait (a role taken mid-run)
        async with self.db.write_lock:
            self.scheduler.start()

    async def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            # the election stops the sender's and the scheduler's work and gives the roles back; the sender ends
            # its calls under way while the runtime's session is still open
            if task.get_name() == "roles":
                await task
        if self.runtime is not None:
            await self.runtime.stop()
        if self.web is not None:
            await self.web.stop()
        for task in self._tasks:
            await task
        self._tasks.clear()
        if self.core.shared_throttle is not None:
            await self.core.shared_throttle.close()
        await self.db.dispose()

    async def serve_forever(self) -> None:
        """Run until Ctrl-C or SIGTERM, then stop cleanly (in-flight updates and sends finish)."""
        await self.start()
        heap.settle()  # what start-up made lives as long as the process: no collection walks it again
        try:
            await wait_for_signal()
        finally:
            await self.stop()


async def wait_for_signal() -> None:
    """Return on SIGINT or SIGTERM (a service manager's stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
