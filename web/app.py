"""The web side: health check, the Telegram webhook endpoint and the public board (web/board.py)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING, Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request

from bot.config import Settings
from bot.runtimes.base import Runtime

if TYPE_CHECKING:
    from web.board import PublicBoard

log = logging.getLogger("linli.web")

#: Seconds a webhook POST waits for its update to be handled (Telegram gives up on a POST after about a minute)
WEBHOOK_PATIENCE = 45.0


def create_app(settings: Settings, runtime: Runtime | None = None, board: PublicBoard | None = None) -> FastAPI:
    docs = settings.web_docs  # the API description only when asked for (LINLI_WEB_DOCS): it maps the attack surface
    app = FastAPI(title="Linli 邻里", version="0.1.0", docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if runtime is not None:
        @app.post(settings.webhook_path, include_in_schema=False)
        async def telegram_webhook(
            request: Request,
            secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
        ) -> dict[str, Any]:
            expected = settings.webhook_secret
            if not expected:  # the app refuses to start so (Settings.check_webhook); never accept a POST anyway
                log.error("webhook POST refused: LINLI_WEBHOOK_SECRET is not set")
                raise HTTPException(status_code=403, detail="webhook secret not configured")
            if not hmac.compare_digest((secret or "").encode(), expected.encode()):
                log.warning("webhook POST refused: wrong or missing secret token")
                raise HTTPException(status_code=401, detail="bad secret token")
            update = await request.json()
            if not isinstance(update, dict) or "update_id" not in update:
                raise HTTPException(status_code=400, detail="not an update")
            try:
                # the core waits out a database outage; past WEBHOOK_PATIENCE the POST fails instead, and
                # Telegram posts the update again later (one already recorded is then skipped)
                await asyncio.wait_for(runtime.feed_webhook(update), WEBHOOK_PATIENCE)
            except TimeoutError:
                log.warning("webhook update %s not handled in %.0f s (database unreachable?): answered 503, "
                            "Telegram will post it again", update.get("update_id"), WEBHOOK_PATIENCE)
                raise HTTPException(status_code=503, detail="not handled, send it again") from None
            except Exception:
                log.exception("webhook update %s failed: answered 503, Telegram will post it again",
                              update.get("update_id"))
                raise HTTPException(status_code=503, detail="not handled, send it again") from None
            return {"ok": True}

    if board is not None:
        from web.board import mount

        mount(app, board)
    return app


class WebServer:
    """Uvicorn in this process's event loop, started and stopped with the bot."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None, board: PublicBoard | None = None,
                 port: int | None = None) -> None:
        config = uvicorn.Config(create_app(settings, runtime, board), host=settings.web_host,
                                port=settings.web_port if port is None else port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (e.g. the port is taken)
                raise RuntimeError("web server stopped while starting")
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose when asked for port 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    async def stop(self) -> None:
        if self._task is not None:
            self.server.should_exit = True
            await self._task
            self._task = None
