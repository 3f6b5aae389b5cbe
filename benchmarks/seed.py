"""People for the benchmarks: registered members in the database (bulk rows, as registration
leaves them) and the same people as Telegram users in the stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the bare bot's process (benchmarks/bare_process.py) uses the people without Linli's modules
    from bot.standin.server import StandIn

FIRST_TG_ID = 500_000_001
TG_LANGUAGE = "zh-hans"
CHUNK = 2_000


def person_name(tg_id: int) -> str:
    return f"居民{tg_id - FIRST_TG_ID + 1}"


def tg_ids(count: int) -> list[int]:
    return list(range(FIRST_TG_ID, FIRST_TG_ID + count))


async def seed_members(database_url: str, count: int) -> list[int]:
    """A community with `count` registered residents spread over six buildings; their Telegram ids."""
    from sqlalchemy import insert

    from flows import membership
    from flows.clock import SystemClock
    from flows.roles import Role
    from storage.db import Database
    from storage.models import Member, RoleGrant, User

    db = Database(database_url)
    now = SystemClock().now()
    ids = tg_ids(count)
    try:
        async with db.uow() as uow:
            community, _ = await membership.create_community(
                uow, name="北辰示范社区", now=now, buildings=[str(i) for i in range(1, 7)])
            page = await membership.list_buildings(uow, community_id=community.id or 0, size=50)
            building_ids = [b.id for b in page.items]
            community_id = community.id or 0
            for start in range(0, count, CHUNK):
                chunk = ids[start:start + CHUNK]
                await uow.session.exec(insert(User), params=[
                    {"id": i + 1, "tg_id": tg_id, "first_name": person_name(tg_id), "tg_language": TG_LANGUAGE,
                     "active_community_id": community_id, "created_at": now}
                    for i, tg_id in enumerate(chunk, start)
                ])
                await uow.session.exec(insert(Member), params=[
                    {"id": i + 1, "community_id": community_id, "user_id": i + 1,
                     "building_id": building_ids[i % len(building_ids)], "display_name": person_name(tg_id),
                     "consent_at": now, "joined_at": now}
                    for i, tg_id in enumerate(chunk, start)
                ])
                await uow.session.exec(insert(RoleGrant), params=[
                    {"community_id": community_id, "member_id": i + 1, "role": Role.RESIDENT.value,
                     "granted_at": now}
                    for i in range(start, start + len(chunk))
                ])
            await uow.commit()
            return ids
    finally:
        await db.dispose()


def add_standin_users(standin: StandIn, ids: Sequence[int]) -> None:
    """The same people in the stand-in, with the names the database has (so nothing changes)."""
    for tg_id in ids:
        standin.create_user(person_name(tg_id), id=tg_id, language_code=TG_LANGUAGE)
