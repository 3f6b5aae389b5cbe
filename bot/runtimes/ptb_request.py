"""PTB's HTTP requests over aiohttp (#11, per-update cost).

PTB's own request class goes through httpx, httpcore and anyio: profiled on the button-press benchmark, a Bot API
call cost the ptb runtime about twice the CPU it costs the aiogram runtime on aiohttp. PTB lets a bot bring its own
`BaseRequest` (what goes over the wire, the answers, every error PTB raises from a status code stay PTB's); this one
is aiohttp's client, as the aiogram runtime uses. Timeouts keep PTB's meaning: `read_timeout` for the answer,
`connect_timeout` for the connection (aiohttp has no write timeout: the answer's bounds the whole call)."""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_DEFAULT = type(BaseRequest.DEFAULT_NONE)  # "not given": the request's own timeout holds


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, _DEFAULT) else value


class AiohttpRequest(BaseRequest):
    def __init__(self, *, read_timeout: float | None, connect_timeout: float | None, pool_size: int = 256) -> None:
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        self._open()

    def _open(self) -> aiohttp.ClientSession:
        """The session, opened on first use (the runtime asks getMe before PTB's Application is initialised)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size))
        return self._session

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._open()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=_given(connect_timeout, self._connect_timeout),
                                        sock_read=_given(read_timeout, self._read_timeout))
        data: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:  # one JSON body (the Bot API takes either): cheaper to build and to read than a URL-encoded form
                data, headers = request_data.json_payload, _JSON
        try:
            async with session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's ServerTimeoutError is one
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


_JSON = {"Content-Type": "application/json"}
