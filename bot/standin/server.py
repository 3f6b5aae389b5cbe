"""The stand-in HTTP server: Bot API at /bot<token>/<method>, files, control API, web page."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from . import control, guard
from .actions import Actions
from .delivery import Delivery
from .files import FileStore
from .limits import AFTER, Fault, FaultInjector, Faults, RateLimiter, RateLimits, is_sending_method
from .methods import BotApi
from .spec import ApiError, Spec, UploadedFile, bad_request, get_spec
from .state import BotAccount, Chat, User, World

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY = 60 * 1024 * 1024
PLACEHOLDER_PAGE = "<!doctype html><title>Linli stand-in</title><p>The web chat page is not built yet.</p>\n"


class DropConnection(Exception):
    """Fault injection: close the connection without answering."""


class BadGatewayPage(Exception):
    """Fault injection: answer like nginx in front of a failed upstream (502 with an HTML page)."""


BAD_GATEWAY_PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                    "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@dataclass
class Stats:
    sent: int = 0
    rejected_429: int = 0
    faults_injected: int = 0
    calls_by_method: Counter[str] = field(default_factory=Counter)
    #: calls that took effect, by method (a duplicate shows as more accepted sends than rows to send)
    accepted_by_method: Counter[str] = field(default_factory=Counter)
    #: calls that took effect but whose answer the client did not get in time: reset, or held past its timeout
    accepted_then_failed: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    #: calls by method and the body's Content-Type ("sendMessage application/json"; "-" without a body)
    bodies: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0  # Bot API calls being handled (getUpdates excluded)
    last_call: float = 0.0  # monotonic time of the last arrival/completion (getUpdates excluded)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "rejected_429": self.rejected_429,
            "faults_injected": self.faults_injected,
            "calls_by_method": dict(self.calls_by_method),
            "accepted_by_method": dict(self.accepted_by_method),
            "accepted_then_failed": self.accepted_then_failed,
            "faults_by_kind": dict(self.faults_by_kind),
        }


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


class StandIn:
    """A local, strict Telegram Bot API server with a control API for tests.

    Usable in-process (``await StandIn().start()`` inside a test's event loop) or from the
    command line (``python -m bot.standin``).
    """

    def __init__(self, limits: RateLimits | None = None, faults: Faults | None = None, *,
                 clock: Callable[[], float] | None = None, timezone: str | None = None) -> None:
        """`clock`: seconds since the epoch for the messages' dates (default: the real time); `timezone`:
        the zone the web page shows times in (default: the browser's)."""
        self.spec: Spec = get_spec()
        self.world = World(clock, timezone)
        self.files = FileStore(self.world)
        self.delivery = Delivery(self.world)
        self.api = BotApi(self.world, self.files, self.delivery)
        self.actions = Actions(self.world, self.files)
        self.limits = limits or RateLimits()
        self.limiter = RateLimiter(self.limits)
        self.faults = FaultInjector()
        self.faults.configure(faults or Faults())
        self.stats = Stats()
        self.delivery.execute = self._execute_reply
        self.app = self._make_app()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle
    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[guard.middleware])
        app.router.add_route("*", "/bot{token}/{method}", self._bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        control.setup(app, self)
        app.router.add_get("/", self._index)
        if STATIC_DIR.is_dir():
            app.router.add_static("/static/", STATIC_DIR)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 = a free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        real_port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{real_port}"
        return self.url

    async def stop(self) -> None:
        await self.delivery.stop()
        for pending in self.world.callbacks.values():
            if not pending.answered.done():
                pending.answered.cancel()
        self.world.bump()  # release the web page's long-poll (/_control/wait) so shutdown is quick
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandIn:
        if not self.url:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ in-process helpers
    def create_bot(self, token: str, username: str, first_name: str = "Bot") -> BotAccount:
        return self.world.add_bot(token, username, first_name)

    def create_user(self, first_name: str, **kwargs: Any) -> User:
        return self.world.add_user(first_name, **kwargs)

    def create_chat(self, title: str, **kwargs: Any) -> Chat:
        return self.world.add_group(title, **kwargs)

    def reset(self) -> None:
        for pending in self.world.callbacks.values():
            if not pending.answered.done():
                pending.answered.cancel()
        self.world.reset()
        self.files.reset(self.world)
        self.limiter.reset()
        self.stats = Stats()

    async def settle(self, quiet_ms: float = 150, timeout: float = 10) -> bool:
        """Wait until every update is confirmed and no Bot API call came for ``quiet_ms``."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle = self.stats.in_flight == 0 and (now - self.stats.last_call) * 1000 >= quiet_ms
            if idle and all(not bot.queue for bot in self.world.bots.values()):
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ Bot API
    async def _bot_api(self, request: web.Request) -> web.StreamResponse:
        bot = self.world.bots_by_token.get(request.match_info["token"])
        if bot is None:
            return _json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = self.spec.canonical_method(request.match_info["method"])
        if method is None:
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        self.stats.calls_by_method[method] += 1
        self.stats.bodies[f"{method} {request.content_type if request.can_read_body else '-'}"] += 1
        tracked = method != "getUpdates"
        if tracked:
            self.stats.in_flight += 1
            self.stats.last_call = time.monotonic()
        try:
            params, uploads = await _read_params(request)
            attach_uploads(params, uploads, set(self.spec.methods[method]))
            result = await self.call(bot, method, params, uploads)
            return _json_response({"ok": True, "result": result})
        except ApiError as exc:
            return _json_response(exc.payload(), exc.code)
        except DropConnection:
            return _drop(request)
        except BadGatewayPage:
            return web.Response(text=BAD_GATEWAY_PAGE, status=502, content_type="text/html")
        except ConnectionResetError:  # the client hung up mid-request (e.g. a long poll cancelled on stop)
            log.debug("client went away during %s", method)
            return web.Response(status=499)
        except Exception as exc:  # a stand-in bug: answer like Telegram's 500 and keep serving
            log.exception("stand-in failed on %s", method)
            body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"}
            return _json_response(body, 500)
        finally:
            if tracked:
                self.stats.in_flight -= 1
                self.stats.last_call = time.monotonic()

    async def call(
        self, bot: BotAccount, method: str, params: dict[str, Any], uploads: dict[str, UploadedFile]
    ) -> Any:
        """Validate, inject faults, rate-limit and run one method (``method`` is canonical)."""
        params = self.spec.validate(method, params)
        handler = self.api.handlers.get(method)
        if handler is None:
            raise bad_request("method not supported by the stand-in")
        chat_key = params.get("chat_id")
        fault = self._inject_fault(method, chat_key)
        sending = is_sending_method(method)
        is_group = isinstance(chat_key, int) and chat_key < 0
        if sending:
            retry_after = self.limiter.acquire(bot.id, chat_key, is_group)
            if retry_after is not None:
                self.stats.rejected_429 += 1
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        try:
            result = await handler(bot, params, uploads)
        except ApiError:
            if sending:
                self.limiter.refund(bot.id, chat_key, is_group)
            raise
        if sending:
            self.stats.sent += 1
        self.stats.accepted_by_method[method] += 1
        if fault is not None and fault.kind == "accepted_reset":
            self.stats.accepted_then_failed += 1
            raise DropConnection()
        if fault is not None and fault.kind == "accepted_delay":
            self.stats.accepted_then_failed += 1  # counted as failed: the delay is meant to outlast the client
            await asyncio.sleep(fault.delay)
        return result

    def _inject_fault(self, method: str, chat_id: Any) -> Fault | None:
        """Strike now with a fault drawn for this call, or return one that strikes after it took effect."""
        fault = self.faults.draw(method, chat_id)
        if fault is None:
            return None
        self.stats.faults_injected += 1
        self.stats.faults_by_kind[fault.kind] += 1
        if fault.kind in AFTER:
            return fault
        if fault.kind == "429":
            self.stats.rejected_429 += 1
            raise ApiError(429, "Too Many Requests: retry after 1", 1)
        if fault.kind == "5xx":
            raise ApiError(500, "Internal Server Error")
        if fault.kind == "html_502":
            raise BadGatewayPage()
        raise DropConnection()

    async def _execute_reply(self, bot: BotAccount, method: str, params: dict[str, Any]) -> Any:
        canonical = self.spec.canonical_method(method)
        if canonical is None:
            raise ApiError(404, "Not Found")
        self.stats.calls_by_method[canonical] += 1
        self.stats.last_call = time.monotonic()
        try:
            return await self.call(bot, canonical, params, {})
        except (DropConnection, BadGatewayPage) as exc:  # no connection to break: the reply is just lost
            raise ApiError(502, f"Bad Gateway ({type(exc).__name__})") from exc

    # ------------------------------------------------------------------ files & page
    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.world.bots_by_token:
            return _json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        stored = self.world.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _json_response({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return guard.file_response(stored)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        index = STATIC_DIR / "index.html"
        if index.is_file():
            return web.FileResponse(index)
        return web.Response(text=PLACEHOLDER_PAGE, content_type="text/html")


def _drop(request: web.Request) -> web.StreamResponse:
    """Abort the TCP connection; the client sees a disconnect without any response."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError()


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Query string + form/multipart/JSON body → (params, uploaded files by part name)."""
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return params, uploads
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON body must be an object")
        params.update(body)
        return params, uploads
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                uploads[key] = UploadedFile(
                    value.filename or key, value.content_type or "application/octet-stream", value.file.read()
                )
            else:
                params[key] = value
        return params, uploads
    raise bad_request(f"unsupported Content-Type {ctype}")


def attach_uploads(params: dict[str, Any], uploads: dict[str, UploadedFile], fields: set[str]) -> None:
    """A file part named like a parameter is that parameter (PTB style); others are attach:// targets."""
    for name, upload in uploads.items():
        if name in fields and name not in params:
            params[name] = upload
