"""A small community with key persons, volunteers, a grid worker, an admin and a volunteers' group,
written directly through the models (the ledger's dialogs are tested elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from flows import checkins
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Building, Chat, Community, Grid, KeyPerson, Member, OutboxMessage, RoleGrant, User

SEALER = Sealer(b"test-secret-key-0123456789abcdef")
SECRET_NAME = "王秀英"


@dataclass
class World:
    community_id: int
    building_id: int
    members: dict[str, int] = field(default_factory=dict)  # name → member id
    tg: dict[str, int] = field(default_factory=dict)  # name → telegram id
    persons: list[int] = field(default_factory=list)
    group_chat: int = -100777


async def build(db: Database, *, tz: str = "Asia/Shanghai", slug: str = "bc", tg_base: int = 9000, persons: int = 1,
                settings: dict[str, Any] | None = None, people: dict[str, tuple[str, ...]] | None = None,
                group: bool = True, group_chat: int = -100777) -> World:
    now = datetime(2026, 1, 1, tzinfo=UTC)  # before every clock of the tests
    people = people or {"primary": ("volunteer",), "backup": ("volunteer",), "other": ("volunteer",),
                        "grid": ("grid_worker",), "admin": ("admin",)}
    async with db.uow(write=True) as uow:
        c = Community(slug=slug, name="北辰示范社区", timezone=tz, locale="zh_CN",
                      settings={"checkin": settings} if settings else {}, created_at=now)
        uow.session.add(c)
        await uow.session.flush()
        grid = Grid(community_id=c.id, name="第一网格")
        uow.session.add(grid)
        await uow.session.flush()
        b = Building(community_id=c.id, grid_id=grid.id, label="3", sort_key=3)
        uow.session.add(b)
        await uow.session.flush()
        w = World(community_id=c.id, building_id=b.id, group_chat=group_chat)
        for i, (name, roles) in enumerate(people.items()):
            u = User(tg_id=tg_base + i, first_name=name, language="zh_CN", created_at=now)
            uow.session.add(u)
            await uow.session.flush()
            m = Member(community_id=c.id, user_id=u.id, building_id=b.id, display_name=f"志愿者{name}",
                       consent_at=now, joined_at=now)
            uow.session.add(m)
            await uow.session.flush()
            for role in ("resident", *roles):
                uow.session.add(RoleGrant(community_id=c.id, member_id=m.id, role=role, granted_at=now))
            w.members[name], w.tg[name] = m.id, u.tg_id
        if "grid" in w.members:
            grid.worker_member_id = w.members["grid"]
            uow.session.add(grid)
        if group:
            uow.session.add(Chat(tg_chat_id=group_chat, type="supergroup", title="志愿者群", community_id=c.id,
                                 purpose="volunteers", bot_status="administrator", created_at=now))
        for i in range(persons):
            p = KeyPerson(community_id=c.id, building_id=b.id, room=f"{401 + i}", alias=f"3-2-{401 + i} 李奶奶",
                          name_enc=SEALER.seal(SECRET_NAME), contact_enc=SEALER.seal("13800000000"), risk="red",
                          primary_volunteer_id=w.members.get("primary"), backup_volunteer_id=w.members.get("backup"),
                          created_at=now, updated_at=now)
            uow.session.add(p)
            await uow.session.flush()
            w.persons.append(p.id)
        await uow.commit()
    return w


async def tick(db: Database, at: datetime) -> checkins.TickResult:
    async with db.uow(write=True) as uow:
        res = await checkins.tick(uow, now=at)
        await uow.commit()
    return res


async def messages(db: Database, since: int = 0) -> list[OutboxMessage]:
    async with db.uow() as uow:
        return list((await uow.session.exec(
            select(OutboxMessage).where(col(OutboxMessage.id) > since).order_by(col(OutboxMessage.id)))).all())


async def last_id(db: Database) -> int:
    rows = await messages(db)
    return rows[-1].id if rows else 0


async def user(db: Database, tg_id: int) -> User:
    async with db.uow() as uow:
        return (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
