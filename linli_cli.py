"""The `linli` command: run the bot, the sandbox, migrations and community set-up."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import urllib.request

from bot.config import SecretError, Settings


def _logging(settings: Settings) -> None:
    from bot.logs import setup_logging

    setup_logging(settings)


def _bot_username(settings: Settings, given: str | None) -> str:
    if given:
        return given.lstrip("@")
    if settings.bot_token:
        base = (settings.bot_api_url or "https://api.telegram.org").rstrip("/")
        with urllib.request.urlopen(f"{base}/bot{settings.bot_token}/getMe", timeout=10) as resp:  # noqa: S310
            return str(json.load(resp)["result"]["username"])
    from bot.sandbox import BOT_USERNAME

    return BOT_USERNAME


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import LinliApp
    from bot.config import ConfigError
    from storage.migrate import SchemaBehind

    if args.runtime:
        settings = settings.model_copy(update={"runtime": args.runtime})
    if settings.key_file_beside_database():
        logging.getLogger("linli").warning(
            "the secret key file %s sits beside the database: a copy or backup of that directory carries the key "
            "that opens the care ledger. Keep it elsewhere (LINLI_SECRET_KEY_FILE) or set LINLI_SECRET_KEY",
            settings.secret_key_file)
    try:
        asyncio.run(LinliApp(settings, serve_board=True).serve_forever())
    except (SchemaBehind, ConfigError) as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    """The sandbox on a database and a secret of its own: LINLI_DATABASE_URL and LINLI_SECRET_KEY belong to the
    real bot and are ignored (said in one line), and a database that is not a sandbox's is refused."""
    import os

    from bot.sandbox import SANDBOX_DATABASE_URL, SANDBOX_SECRET_FILE, NotASandbox, Sandbox

    database = args.database or SANDBOX_DATABASE_URL
    ignored = [name for name in ("LINLI_DATABASE_URL", "LINLI_SECRET_KEY", "LINLI_SECRET_KEY_FILE")
               if os.environ.get(name)]
    if ignored:
        from sqlalchemy.engine import make_url

        shown = make_url(database).render_as_string(hide_password=True) if args.database else "./data/sandbox.db"
        print(f"linli sandbox: {', '.join(ignored)} ignored; the sandbox keeps its own database ({shown}) and "
              f"secret ({SANDBOX_SECRET_FILE})", file=sys.stderr)
    update: dict[str, object] = {"database_url": database, "secret_key": "", "secret_key_previous": "",
                                 "secret_key_file": SANDBOX_SECRET_FILE}
    if args.runtime:
        update["runtime"] = args.runtime
    board_port = settings.web_port if settings.web_board and not args.start_only else None
    sandbox = Sandbox(settings.model_copy(update=update), host=args.host, port=args.port, board_port=board_port)

    async def start_and_stop() -> None:
        await sandbox.start()
        print(f"linli sandbox started at {sandbox.url}/ and stopped", flush=True)
        await sandbox.stop()

    try:
        asyncio.run(start_and_stop() if args.start_only else sandbox.serve_forever())
    except NotASandbox as exc:
        print(f"linli sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    from storage.migrate import current_revision, head_revision, upgrade

    if args.action == "upgrade":
        head = upgrade(settings.database_url)
        print(f"database is at revision {head}")
    else:
        current, head = current_revision(settings.database_url), head_revision()
        print(f"current: {current or 'empty'} · newest: {head}" + ("" if current == head else
                                                                    " — run `linli db upgrade`"))
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """The database, its schema, who holds each role, the outbox's backlog, the last update handled, Redis."""
    from datetime import UTC, datetime

    from bot.status import gather, render
    from storage.db import Database
    from storage.migrate import current_revision, head_revision

    async def show() -> int:
        db = Database(settings.database_url)
        now = datetime.now(UTC)
        try:
            status = await gather(db, current=current_revision(settings.database_url), head=head_revision(), now=now,
                                  redis_url=settings.redis_url)
        finally:
            await db.dispose()
        print("\n".join(render(status, now)))
        return 0 if status.schema_ok else 2

    return asyncio.run(show())


def cmd_community(settings: Settings, args: argparse.Namespace) -> int:
    from flows import membership
    from flows.clock import SystemClock
    from flows.errors import Invalid
    from storage.db import Database
    from storage.migrate import check_current

    check_current(settings.database_url)

    async def create() -> int:
        db = Database(settings.database_url)
        try:
            async with db.uow(write=True) as uow:
                buildings = membership.parse_building_range(args.buildings) if args.buildings else []
                community, invite = await membership.create_community(
                    uow, name=args.name, slug=args.slug, timezone=args.timezone or settings.timezone,
                    locale=args.locale or settings.locale, buildings=buildings, now=SystemClock().now())
                await uow.commit()
        except Invalid as err:
            print(f"linli: invalid {err.field}: {err.reason} {err.details or ''}", file=sys.stderr)
            return 2
        finally:
            await db.dispose()
        username = _bot_username(settings, args.bot_username)
        print(f"Community {community.name!r} created (id {community.id}, slug {community.slug}, "
              f"{len(buildings)} buildings, time zone {community.timezone}).")
        print("Send this one-time admin invite to the community's admin (valid 30 days):")
        print(f"  https://t.me/{username}?start=i_{invite.code}")
        return 0

    async def listing() -> int:
        db = Database(settings.database_url)
        try:
            async with db.uow() as uow:
                for c in await membership.list_communities(uow):
                    print(f"{c.id}\t{c.slug}\t{c.name}\t{c.timezone}\t{c.locale}")
        finally:
            await db.dispose()
        return 0

    async def settings_of() -> int:
        from flows import community_settings as cs
        from flows.errors import NotFound

        db = Database(settings.database_url)
        try:
            async with db.uow(write=True) as uow:
                community = await membership.community_by_slug(uow, args.slug)
                for pair in args.set or []:
                    key, _, text = pair.partition("=")
                    done = await cs.set_value(uow, actor=None, key=key.strip(), text=text or None,
                                              now=SystemClock().now(), community_id=community.id)
                    print(f"set {done.setting.key} = {done.value}" + ("" if done.own else " (default)"))
                await uow.commit()
                for v in cs.values(community):
                    unit = {"minutes": " min", "hours": " h"}.get(v.setting.kind, "")
                    print(f"{v.setting.key}\t{v.value}{unit}\t{'set' if v.own else 'default'}")
        except NotFound as err:
            print(f"linli: no such {err.what}: {err.key}", file=sys.stderr)
            return 2
        except Invalid as err:
            print(f"linli: invalid value for {err.details.get('key', err.field)}: {err.reason} "
                  f"{ {k: v for k, v in err.details.items() if k != 'key'} or ''}", file=sys.stderr)
            return 2
        finally:
            await db.dispose()
        return 0

    runs = {"create": create, "list": listing, "settings": settings_of}
    return asyncio.run(runs[args.action]())


def _progress(done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """`linli import residents|key-persons|complaints FILE --community SLUG [--dry-run] [--create-buildings]
    [--remove-absent]`:
    the shared reader, a progress bar on stderr, the report (line, column, why — never a value) on stdout; all or
    nothing per row; audited (via cli). Exit 0 when every row went through, 1 when some were rejected, 2 when the
    file or the community is refused as a whole."""
    from pathlib import Path

    from bot import imports as words
    from flows import membership
    from flows.clock import SystemClock
    from flows.errors import NotFound
    from flows.imports import reader, run, runs
    from storage.crypto import Sealer
    from storage.db import Database
    from storage.migrate import SchemaBehind, check_current

    path = Path(args.file)
    if not path.is_file():
        print(f"linli: no such file: {path}", file=sys.stderr)
        return 2
    try:
        check_current(settings.database_url)
    except SchemaBehind as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    sealer = Sealer(settings.secret())

    async def go() -> int:
        db = Database(settings.database_url)
        try:
            async with db.uow() as uow:
                try:
                    community = await membership.community_by_slug(uow, args.community)
                except NotFound:
                    print(f"linli: no community with slug {args.community!r}", file=sys.stderr)
                    return 2
            importer = runs.importer(args.what, community, sealer,
                                     create_buildings=getattr(args, "create_buildings", False),
                                     remove_absent=getattr(args, "remove_absent", False))
            try:
                sheet = reader.read(path.read_bytes(), path.name, importer.aliases, importer.required)
            except reader.FileRefused as err:
                print(f"linli: cannot import {path}: "
                      f"{words.refused('en', err, importer.aliases, words=False)}",
                      file=sys.stderr)
                return 2
            except OSError as exc:
                print(f"linli: cannot read {path}: {type(exc).__name__}", file=sys.stderr)
                return 2
            report = await run.run(db, importer, sheet, dry_run=args.dry_run,
                                   now=SystemClock().now(), community_id=community.id or 0, via="cli",
                                   progress=_progress if sheet.rows else None)
        finally:
            await db.dispose()
        c = report.counts
        if args.dry_run:
            print("Dry run: nothing was written.")
        else:
            print(f"{c['created'] + c['updated']} imported, {c['rejected']} rejected.")
        print(words.counts("en", report))
        for line in words.absent("en", report):
            print(line)
        for line in words.lines("en", report, limit=None, words=False):
            print(f"  {line}")
        return 0 if not report.rejected else 1

    return asyncio.run(go())


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """`linli export LIST --community SLUG --format csv|xlsx [--year Y] [-o FILE]`: as the operator (every list,
    the care ledger opened into the file only), audited (via cli). Progress on stderr; the file to -o or stdout."""
    from bot.exports import filename, render
    from flows import exports, membership
    from flows.clock import SystemClock
    from flows.errors import NotFound
    from storage.crypto import Sealer
    from storage.db import Database
    from storage.migrate import SchemaBehind, check_current

    try:
        check_current(settings.database_url)
    except SchemaBehind as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    sealer = Sealer(settings.secret())

    async def run() -> tuple[bytes, str] | None:
        db = Database(settings.database_url)
        try:
            async with db.uow(write=True) as uow:
                try:
                    community = await membership.community_by_slug(uow, args.community)
                except NotFound:
                    return None
                table = await exports.export(uow, kind=args.what, community=community, actor=None, sealer=sealer,
                                             now=SystemClock().now(), year=args.year, via="cli",
                                             progress=lambda n: sys.stderr.write(f"\rrows read: {n}"))
                await uow.commit()
            sys.stderr.write("\n")
            total = len(table.rows)
            data = render(table, args.format, community.locale,
                          progress=(lambda n: _progress(n, total)) if total >= 500 else None)
            return data, filename(table, args.format, args.year)
        finally:
            await db.dispose()

    result = asyncio.run(run())
    if result is None:
        print(f"linli: no community with slug {args.community!r}", file=sys.stderr)
        return 2
    data, name = result
    out = args.output or name
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        from pathlib import Path

        Path(out).write_bytes(data)
        print(f"written to {out}", file=sys.stderr)
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    """`linli keys rotate [--dry-run]`: a new secret, and the care ledger sealed again with it (bot/keys.py)."""
    from bot.keys import BallotOpen, rotate
    from storage.migrate import SchemaBehind, check_current

    try:
        check_current(settings.database_url)
        report, what = asyncio.run(rotate(settings, dry_run=args.dry_run, progress=_progress))
    except (SchemaBehind, BallotOpen) as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    verb = "would be re-sealed" if args.dry_run else "re-sealed"
    print(f"{report.resealed} of {report.values} sealed values {verb}; {what}.")
    if report.unopenable:
        print(f"{len(report.unopenable)} values open with none of the keys held and were left as they are:")
        for where in report.unopenable:
            print(f"  {where}")
        return 1
    if not args.dry_run:
        print("Restart the bot (and every worker) now: they still hold the old keys.")
    return 0


def cmd_property(settings: Settings, args: argparse.Namespace) -> int:
    """`linli property indicators check FILE`: load an indicator file as the bot would; every fault, by item."""
    from flows.property.indicators import IndicatorError, load

    try:
        ind = load(args.file)
    except OSError as exc:
        print(f"linli: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except IndicatorError as exc:
        print(f"{args.file}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    shares = ", ".join(f"{k} {v:g}" for k, v in ind.shares.items())
    print(f"{args.file}: OK — {len(ind.categories)} categories, {len(ind.items)} items, weights {ind.total:g}; "
          f"score: {shares}; complaints 0 at {ind.complaints_zero_at:g} per 1,000 households; "
          f"survey minimum {ind.survey_min_answers} answers or {ind.survey_min_share:.0%} of households")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) community governance bot")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the bot (needs LINLI_BOT_TOKEN)")
    p.add_argument("--runtime", choices=["aiogram", "ptb"])
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("sandbox", help="the bot against a local Telegram stand-in, with a web chat page")
    p.add_argument("--runtime", choices=["aiogram", "ptb"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--database", help="a database of the sandbox's own (default ./data/sandbox.db); one that holds "
                                      "real communities is refused")
    p.add_argument("--start-only", action="store_true", help="start, print the address and stop (a check)")
    p.set_defaults(fn=cmd_sandbox)
    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(fn=cmd_db)
    p = sub.add_parser("status", help="database, schema, which process holds the scheduler and the sender, outbox")
    p.set_defaults(fn=cmd_status)
    p = sub.add_parser("community", help="create or list communities")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("create", help="create a community and print its first admin invite")
    c.add_argument("name")
    c.add_argument("--slug")
    c.add_argument("--timezone")
    c.add_argument("--locale", choices=["zh_CN", "en"])
    c.add_argument("--buildings", help="e.g. 1-12 or 1-6,8")
    c.add_argument("--bot-username", help="for the invite link (default: asked from Telegram with getMe)")
    csub.add_parser("list", help="list communities")
    c = csub.add_parser("settings", help="show a community's settings, or change them: KEY=VALUE (KEY=default resets)")
    c.add_argument("slug")
    c.add_argument("set", nargs="*", metavar="KEY=VALUE")
    p.set_defaults(fn=cmd_community)
    p = sub.add_parser("import", help="import data from a file")
    isub = p.add_subparsers(dest="what", required=True)
    for what, text in (("residents", "the household roster: building, room, household size, a resident's name "
                                      "and phone"),
                       ("key-persons", "key persons of the care ledger"),
                       ("complaints", "12345 hotline work orders (the caller's name and phone are not read)")):
        i = isub.add_parser(what, help=f"{text}, from a CSV (UTF-8 or GBK) or XLSX file")
        i.add_argument("file")
        i.add_argument("--community", required=True, help="the community's slug (`linli community list`)")
        i.add_argument("--dry-run", action="store_true", help="say what would change, row by row; write nothing")
        if what == "residents":
            i.add_argument("--create-buildings", action="store_true",
                           help="add the buildings the community lacks (else their rows are rejected)")
            i.add_argument("--remove-absent", action="store_true",
                           help="remove the households of the file's buildings that it leaves out (only when every "
                                "row goes through)")
    p.set_defaults(fn=cmd_import)
    p = sub.add_parser("export", help="export a community's list as CSV or XLSX (the care ledger opened in the file)")
    p.add_argument("what", choices=["needs", "ballot", "projects", "requests", "ledger", "checkins", "wishes", "posts",
                                     "spaces", "loans", "jobs", "trainings"])
    p.add_argument("--community", required=True, help="the community's slug (`linli community list`)")
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    p.add_argument("--year", type=int)
    p.add_argument("-o", "--output", help="the file to write (default SLUG-LIST[-YEAR].FORMAT; - for stdout)")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("keys", help="the secret key")
    ksub = p.add_subparsers(dest="action", required=True)
    k = ksub.add_parser("rotate", help="a new secret; every sealed value of the care ledger sealed again with it "
                                       "(stop the bot first; refused while a ballot is open)")
    k.add_argument("--dry-run", action="store_true", help="count what would be re-sealed, change nothing")
    p.set_defaults(fn=cmd_keys)
    p = sub.add_parser("property", help="the property evaluation (物业考核)")
    psub = p.add_subparsers(dest="what", required=True)
    pi = psub.add_parser("indicators", help="indicator files")
    pisub = pi.add_subparsers(dest="action", required=True)
    pc = pisub.add_parser("check", help="check an indicator file (YAML): weights, categories, every item's rule")
    pc.add_argument("file")
    p.set_defaults(fn=cmd_property)
    args = parser.parse_args(argv)
    settings = Settings()
    _logging(settings)
    try:
        return int(args.fn(settings, args))
    except SecretError as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
