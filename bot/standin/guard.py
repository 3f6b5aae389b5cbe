"""Who may use the stand-in's control API and its web page: a program or a page on this machine only.

The control API drives every fake person and reads every chat (with the names, rooms and contacts the
sandbox shows), so another web site open in the same browser must not reach it:

- `Host` must name the loopback — 127.0.0.1, localhost or [::1] — with the port the request came in on,
  or 403 (a site whose DNS name is rebound to 127.0.0.1 sends its own name);
- `Origin`, which browsers send on cross-site and on POST requests, must be such a loopback origin, or 403
  (another site's page cannot drive the API with a form or a script);
- a POST carries `application/json`, or 415 (a plain HTML form cannot send that); `multipart/form-data` is
  taken only by the upload endpoints, which the web page's file picker uses (and which pass the checks above);
- files go out as attachments with `X-Content-Type-Options: nosniff`, and with their own type only when it is
  a picture, a sound or a video that a browser shows without running anything (else application/octet-stream).

The Bot API routes (/bot<token>/…, /file/bot<token>/…) need the bot's token and are left to it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from .state import StoredFile

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
CONTROL = "/_control/"
GUARDED = ("/", "/index.html")  # the page itself; its static files and the control API by prefix
UPLOADS = frozenset({"/_control/photos", "/_control/documents", "/_control/voices"})
SHOWN_AS_IS = ("image/jpeg", "image/png", "image/gif", "image/webp", "audio/", "video/mp4", "video/webm")


def _refuse(status: int, error: str) -> web.Response:
    return web.Response(text=json.dumps({"error": error}), status=status, content_type="application/json")


def _local_port(request: web.Request) -> int | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return int(sockname[1]) if sockname else None


def loopback_hosts(port: int | None) -> frozenset[str]:
    """The `Host` values of this server on the loopback (the port is left out by browsers only for 80)."""
    names = {f"{name}:{port}" for name in LOOPBACK} if port is not None else set()
    if port == 80:
        names |= set(LOOPBACK)
    return frozenset(names)


def refusal(request: web.Request) -> web.Response | None:
    """The answer to a request the guard refuses, or None to let it through."""
    hosts = loopback_hosts(_local_port(request))
    if request.headers.get("Host", "").strip().lower() not in hosts:
        return _refuse(403, "the stand-in's control API and page answer on the loopback only "
                            "(open it as http://127.0.0.1:PORT/ or http://localhost:PORT/)")
    origin = request.headers.get("Origin")
    if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in hosts}:
        return _refuse(403, "requests from another site's page are refused")
    if request.method == "POST" and request.path.startswith(CONTROL):
        ctype = request.content_type
        if ctype != "application/json" and not (ctype == "multipart/form-data" and request.path in UPLOADS):
            allowed = "application/json or multipart/form-data" if request.path in UPLOADS else "application/json"
            return _refuse(415, f"the control API takes {allowed} only")
    return None


def _guarded(path: str) -> bool:
    return path in GUARDED or path.startswith(CONTROL) or path.startswith("/static/")


@web.middleware
async def middleware(request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if _guarded(request.path):
        refused = refusal(request)
        if refused is not None:
            return refused
    return await handler(request)


def file_response(stored: StoredFile) -> web.Response:
    """A stored file as a download: an attachment, never sniffed, never run as a page."""
    mime = (stored.mime_type or "").lower()
    if not mime.startswith(SHOWN_AS_IS):
        mime = "application/octet-stream"
    name = (stored.file_name or stored.file_path.rsplit("/", 1)[-1] or stored.file_id)[:128]
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
    return web.Response(body=stored.data, content_type=mime, headers={
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
    })
