"""Command line: ``python -m bot.standin --port 8080 --token 123:ABC --username linli_bot``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from .limits import RateLimits
from .server import StandIn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", action="append", default=[], help="bot token (repeatable)")
    parser.add_argument("--username", action="append", default=[], help="bot username, one per --token")
    parser.add_argument("--first-name", default="Linli")
    parser.add_argument("--no-limits", action="store_true", help="disable rate limits")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every rate limit")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    standin = StandIn(limits=RateLimits(enabled=not args.no_limits, scale=args.scale))
    for index, token in enumerate(args.token):
        username = args.username[index] if index < len(args.username) else f"bot{index + 1}_bot"
        standin.create_bot(token, username, args.first_name)
    url = await standin.start(args.host, args.port)
    print(f"stand-in listening on {url} (page: {url}/, control: {url}/_control/)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await standin.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(serve(parse_args(argv)))
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
