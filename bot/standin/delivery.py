"""Update delivery: getUpdates long polling and webhooks (with retry and back-off)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any

import aiohttp

from .spec import ApiError, bad_request
from .state import DEFAULT_UPDATES, BotAccount, World

log = logging.getLogger(__name__)

Executor = Callable[[BotAccount, str, dict[str, Any]], Awaitable[Any]]
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0)


class Delivery:
    """Hands queued updates to bots; see :class:`~bot.standin.state.BotAccount` for the queue."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.execute: Executor | None = None  # runs a method returned in a webhook response
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.webhook_posts = 0

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        for bot in self.world.bots.values():
            self._terminate_poller(bot)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ polling
    @staticmethod
    def _set_allowed(bot: BotAccount, params: dict[str, Any]) -> None:
        if "allowed_updates" in params:
            bot.allowed_updates = list(params["allowed_updates"]) or list(DEFAULT_UPDATES)

    @staticmethod
    def _terminate_poller(bot: BotAccount) -> None:
        if bot.poller is not None and not bot.poller.done():
            bot.poller.set_result(None)
            bot.signal.fire()

    async def get_updates(self, bot: BotAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        if bot.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._set_allowed(bot, params)
        offset = params.get("offset")
        if offset is not None and offset < 0:
            while len(bot.queue) > -offset:
                bot.queue.popleft()
        elif offset:
            bot.confirm(offset)
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = max(params.get("timeout", 0), 0)
        self._terminate_poller(bot)  # Telegram ends an older concurrent getUpdates with 409
        me: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        bot.poller = me
        try:
            deadline = time.monotonic() + timeout
            while not bot.queue and (remaining := deadline - time.monotonic()) > 0:
                await bot.signal.wait(remaining)
                if me.done():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
        finally:
            if bot.poller is me:
                bot.poller = None
        return list(islice(bot.queue, limit))

    # ------------------------------------------------------------------ webhooks
    def set_webhook(self, bot: BotAccount, params: dict[str, Any]) -> bool:
        url = params["url"]
        if not url:
            return self.delete_webhook(bot, params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            bot.queue.clear()
        self._set_allowed(bot, params)
        bot.webhook_url, bot.webhook_secret, bot.webhook_error = url, secret, None
        self._terminate_poller(bot)
        task = self._tasks.get(bot.id)
        if task is None or task.done():
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(self._webhook_loop(bot))
        bot.signal.fire()
        return True

    def delete_webhook(self, bot: BotAccount, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            bot.queue.clear()
        bot.webhook_url, bot.webhook_secret, bot.webhook_error = "", None, None
        bot.signal.fire()  # the webhook loop notices and ends
        return True

    @staticmethod
    def webhook_info(bot: BotAccount) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": bot.pending(),
        }
        if bot.webhook_url:
            info["max_connections"] = 40
            info["allowed_updates"] = bot.allowed_updates
        if bot.webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = bot.webhook_error
        return info

    async def _webhook_loop(self, bot: BotAccount) -> None:
        failures = 0
        while bot.webhook_url:
            if not bot.queue:
                await bot.signal.wait(1.0)
                continue
            update = bot.queue[0]
            if await self._post(bot, update):
                failures = 0
                if bot.queue and bot.queue[0] is update:
                    bot.queue.popleft()
            else:
                await asyncio.sleep(WEBHOOK_BACKOFF[min(failures, len(WEBHOOK_BACKOFF) - 1)])
                failures += 1

    async def _post(self, bot: BotAccount, update: dict[str, Any]) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
        self.webhook_posts += 1
        try:
            async with self._session.post(bot.webhook_url, data=json.dumps(update), headers=headers) as resp:
                body = await resp.read()
                if not 200 <= resp.status < 300:
                    bot.webhook_error = (
                        self.world.now(),
                        f"Wrong response from the webhook: {resp.status} {resp.reason}",
                    )
                    return False
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            bot.webhook_error = (self.world.now(), f"Connection failed: {exc.__class__.__name__}")
            return False
        await self._run_reply(bot, body)
        return True

    async def _run_reply(self, bot: BotAccount, body: bytes) -> None:
        """A webhook may answer with a method call ({"method": ..., ...}); run it, ignore the result."""
        if not body or self.execute is None:
            return
        try:
            reply = json.loads(body)
        except ValueError:
            return  # any non-JSON 2xx body is just an acknowledgement
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            params = {k: v for k, v in reply.items() if k != "method"}
            try:
                await self.execute(bot, reply["method"], params)
            except ApiError as exc:
                log.info("method %s in webhook reply failed: %s", reply["method"], exc.description)
