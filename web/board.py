"""The public board on the web (F-11.1): read-only pages, no login, phone first.

Routes: `/` (the district's communities), `/district` (rolled up, a chart per community), `/c/<slug>`,
`/c/<slug>/p/<number>`, `/c/<slug>/print` (A4), `/media/<id>.jpg` (a project picture, resized), `/static/…`.
Data comes from flows.public (plain dataclasses); wording from the bot's gettext catalogs; Jinja2 with
autoescape. Every page has an ETag (a hash of what is sent, so 304 on If-None-Match) and, where the data
says when it last changed, Last-Modified."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from bot.core.i18n import tn, tr
from bot.handlers.board import COLOUR_NAMES, EMOJI, REASONS
from bot.handlers.checkins import OPEN, OUTCOME_NAMES
from bot.handlers.needs_words import CATEGORY_NAMES
from bot.handlers.project_notices import FUNDING_NAMES
from bot.handlers.requests import CATEGORY_NAMES as REQUEST_CATEGORIES
from bot.handlers.requests import KIND_ICONS as REQUEST_ICONS
from bot.handlers.requests import KIND_NAMES as REQUEST_KINDS
from bot.handlers.requests import STATE_NAMES as REQUEST_STATES
from bot.handlers.visits import SERVICE_NAMES
from bot.render import ORG_NAMES, role_name
from flows import public
from flows.clock import Clock, local
from flows.errors import NotFound
from flows.membership import list_communities as public_communities
from flows.property import ranking as property_ranking_flow
from flows.property.indicators import district as district_indicators
from storage.db import Database
from web import charts
from web.lang import COOKIE, COOKIE_MAX_AGE, choose
from web.media import MediaCache

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PAGE_MAX_AGE = 60  # seconds a browser may keep a page before asking again (with If-None-Match)
STATIC_MAX_AGE = 86400
MEDIA_MAX_AGE = 30 * 86400  # a picture never changes under its id
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass
class PublicBoard:
    """What the board's pages need: the database, the clock, the picture cache, and the public address."""

    db: Database
    clock: Clock
    media: MediaCache
    public_url: str = ""
    cache_seconds: float = 0.0  # how long a rendered page is kept (LINLI_BOARD_CACHE_SECONDS; 0: rendered each time)


class CachedStatic(StaticFiles):
    """Static files with a Cache-Control header (they change only with a new release)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env


def words(lang: str) -> dict[str, Any]:
    """The template's translation helpers for one language."""
    def t(msgid: str, **kw: Any) -> str:
        return tr(lang, msgid, **kw)

    def tp(singular: str, plural: str, n: int, **kw: Any) -> str:
        return tn(lang, singular, plural, n, **kw)

    def role(code: str | None, org: str | None = None) -> str:
        return role_name(lang, code, org) if code else tr(lang, "not assigned yet")

    def colour_name(c: str) -> str:
        return tr(lang, COLOUR_NAMES.get(c, c))

    return {
        "t": t, "tp": tp, "role": role, "lang": lang, "html_lang": "zh-CN" if lang == "zh_CN" else "en",
        "emoji": EMOJI, "colour_name": colour_name, "bar": lambda b: charts.svg(b, colour_name),
        "reason_name": lambda r: tr(lang, REASONS.get(r, r)),
        "category_name": lambda c: tr(lang, CATEGORY_NAMES.get(c, c)),
        "funding_name": lambda f: tr(lang, FUNDING_NAMES[f]) if f in FUNDING_NAMES else f,
        "outcome_name": lambda o: tr(lang, OPEN) if o == "open" else tr(lang, OUTCOME_NAMES.get(o, o)),
        "stars": lambda r: "—" if r is None else f"{r:.1f}",
        "kind_name": lambda k: tr(lang, REQUEST_KINDS.get(k, k)), "kind_icon": lambda k: REQUEST_ICONS.get(k, ""),
        "request_category": lambda c: tr(lang, REQUEST_CATEGORIES.get(c, c)),
        "request_state": lambda s: tr(lang, REQUEST_STATES.get(s, s)),
        "org_name": lambda o: tr(lang, ORG_NAMES.get(o, o)),
        "service_name": lambda k: tr(lang, SERVICE_NAMES.get(k, k)),
    }


def _etag_matches(header: str, etag: str) -> bool:
    tags = [x.strip().removeprefix("W/") for x in header.split(",")]
    return "*" in tags or etag in tags


def _not_modified_since(header: str | None, last_modified: datetime | None) -> bool:
    if not header or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and last_modified.replace(microsecond=0) <= since


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime | None
    status: int


class PageCache:
    """Rendered pages by (path, language), kept `seconds` by the board's clock (0: not kept). The board is public
    and read-only: a page a few seconds old is fine, and a burst of visitors then costs one rendering."""

    def __init__(self, seconds: float, limit: int = 2000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._pages: dict[tuple[str, str], tuple[datetime, Rendered]] = {}

    def get(self, key: tuple[str, str], now: datetime) -> Rendered | None:
        if self.seconds <= 0:
            return None
        found = self._pages.get(key)
        if found is None or (now - found[0]).total_seconds() >= self.seconds or now < found[0]:
            return None
        return found[1]

    def put(self, key: tuple[str, str], now: datetime, page: Rendered) -> None:
        if self.seconds <= 0:
            return
        if len(self._pages) >= self.limit:
            self._pages.clear()
        self._pages[key] = (now, page)


def board_router(board: PublicBoard) -> APIRouter:
    env = environment()
    router = APIRouter(include_in_schema=False)
    cache = PageCache(board.cache_seconds)
    Producer = Callable[[str], Awaitable[Rendered]]

    def build(lang: str, path: str, template: str, *, last_modified: datetime | None = None, status: int = 200,
              **context: Any) -> Rendered:
        body = env.get_template(template).render(**words(lang), path=path, **context).encode()
        return Rendered(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', last_modified, status)

    async def serve(request: Request, produce: Producer) -> Response:
        lang, remember = choose(request.query_params.get("lang"), request.cookies.get(COOKIE),
                                request.headers.get("accept-language"))
        key, now = (request.url.path, lang), board.clock.now()
        page = cache.get(key, now)
        if page is None:
            page = await produce(lang)
            cache.put(key, now, page)
        headers = {**SECURITY_HEADERS, "ETag": page.etag, "Cache-Control": f"public, max-age={PAGE_MAX_AGE}",
                   "Vary": "Accept-Language, Cookie", "Content-Language": "zh-CN" if lang == "zh_CN" else "en"}
        if page.last_modified is not None:
            headers["Last-Modified"] = format_datetime(page.last_modified.astimezone(UTC).replace(microsecond=0),
                                                       usegmt=True)
        inm = request.headers.get("if-none-match")
        fresh = _etag_matches(inm, page.etag) if inm else _not_modified_since(
            request.headers.get("if-modified-since"), page.last_modified)
        response: Response
        if page.status == 200 and fresh:
            response = Response(status_code=304, headers=headers)
        else:
            response = HTMLResponse(page.body, status_code=page.status, headers=headers)
        if remember:
            response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="lax", httponly=True)
        return response

    def missing_page(lang: str, path: str) -> Rendered:
        return build(lang, path, "missing.html", status=404)

    async def missing(request: Request) -> Response:
        async def produce(lang: str) -> Rendered:
            return missing_page(lang, request.url.path)
        return await serve(request, produce)

    overview: dict[str, Any] = {}  # the district's lines, shared by / and /district in both languages

    async def communities(now: datetime) -> list[public.CommunityLine]:
        at = overview.get("at")
        if board.cache_seconds > 0 and at is not None and 0 <= (now - at).total_seconds() < board.cache_seconds:
            return list(overview["lines"])
        async with board.db.uow() as uow:
            lines = await public.communities(uow, now=now)
        overview.update(at=now, lines=lines)
        return lines

    @router.get("/")
    async def index(request: Request) -> Response:
        async def produce(lang: str) -> Rendered:
            now = board.clock.now()
            lines = await communities(now)
            return build(lang, request.url.path, "index.html", lines=lines, total=public.district_total(lines),
                         year=max((x.year for x in lines), default=local(now, "Asia/Shanghai").year))
        return await serve(request, produce)

    @router.get("/district")
    async def district(request: Request) -> Response:
        async def produce(lang: str) -> Rendered:
            now = board.clock.now()
            lines = await communities(now)
            total = public.district_total(lines)
            async with board.db.uow() as uow:
                month, ranked = await property_ranking_flow.latest_published(uow)
            return build(lang, request.url.path, "district.html", lines=lines, total=total,
                         property_month=month, property_top=[x for x in ranked if x.rank][:3],
                         property_bottom=[x for x in ranked if x.rank][-3:],
                         charts={x.slug: charts.bars(x.counts) for x in lines}, total_chart=charts.share(total),
                         year=max((x.year for x in lines), default=local(now, "Asia/Shanghai").year))
        return await serve(request, produce)

    @router.get("/property")
    async def property_ranking(request: Request) -> Response:
        async def produce(lang: str) -> Rendered:
            async with board.db.uow() as uow:
                month, lines = await property_ranking_flow.latest_published(uow)
                names = {c.id: c.name for c in await public_communities(uow)}
            return build(lang, request.url.path, "property.html", month=month, lines=lines, names=names,
                         shares=district_indicators().shares)
        return await serve(request, produce)

    async def _community(request: Request, slug: str, template: str, printing: bool = False) -> Response:
        async def produce(lang: str) -> Rendered:
            async with board.db.uow() as uow:
                try:
                    b = await public.community_board(uow, slug=slug, now=board.clock.now(), closed=not printing)
                except NotFound:
                    return missing_page(lang, request.url.path)
            return build(lang, request.url.path, template, b=b, counts=b.counts(), last_modified=b.updated_at)
        return await serve(request, produce)

    @router.get("/c/{slug}")
    async def community(request: Request, slug: str) -> Response:
        return await _community(request, slug, "community.html")

    @router.get("/c/{slug}/print")
    async def printable(request: Request, slug: str) -> Response:
        return await _community(request, slug, "print.html", printing=True)

    @router.get("/c/{slug}/p/{number}")
    async def project(request: Request, slug: str, number: str) -> Response:
        async def produce(lang: str) -> Rendered:
            if not number.isdigit() or len(number) > 4:
                return missing_page(lang, request.url.path)
            async with board.db.uow() as uow:
                try:
                    page = await public.project_page(uow, slug=slug, number=int(number), now=board.clock.now())
                except NotFound:
                    return missing_page(lang, request.url.path)
            return build(lang, request.url.path, "project.html", p=page, line=page.line,
                         last_modified=page.updated_at)
        return await serve(request, produce)

    @router.get("/media/{name}")
    async def media(request: Request, name: str) -> Response:
        media_id = name.removesuffix(".jpg")
        if not name.endswith(".jpg") or not board.media.valid(media_id):
            return await missing(request)
        async with board.db.uow() as uow:
            file_id = await public.public_photo(uow, media_id)
        if file_id is None:
            return await missing(request)
        path = await board.media.get(media_id, file_id)
        if path is None:
            return await missing(request)
        return FileResponse(path, media_type="image/jpeg", headers={
            "Cache-Control": f"public, max-age={MEDIA_MAX_AGE}, immutable", "X-Content-Type-Options": "nosniff"})

    return router


def mount(app: Any, board: PublicBoard) -> None:
    """Add the board's pages and static files to a FastAPI app (after its other routes)."""
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
    app.include_router(board_router(board))
