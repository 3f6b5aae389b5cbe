"""What a resident's free message in private can become: the offers the bot makes, and who to contact.

A registered member writes "楼道灯又坏了找谁修？" (or says it in a voice message) outside any dialog. Instead
of "I did not understand", the bot offers to turn the message into something the community handles:

- ``NEED``: a need of the needs list (需求清单), while the community's collection is open and the member
  may still submit one;
- ``REQUEST``: a request (诉求: a problem, a dispute, a safety hazard) carried through the closed loop —
  always, since every community takes requests (flows/requests.py).

`offers_for` is the one place that decides which offers apply; bot/handlers/freetext.py words them.

Whatever applies, the bot also names who to contact: the grid worker of the member's building (or the
community's grid workers when the building has none), reachable on Telegram through the bot's message.
Never a phone number: those live in the care ledger, which this never reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from flows import needs, places
from flows.errors import LimitReached
from flows.membership import Actor
from storage.db import UnitOfWork
from storage.models import User

NEED = "need"
REQUEST = "request"
#: The most grid workers named when the member's building has none of its own
MAX_CONTACTS = 2


@dataclass(frozen=True)
class Contact:
    """A grid worker to write to: their name in the community and their Telegram account (for a link)."""

    name: str
    tg_id: int


@dataclass(frozen=True)
class Offers:
    kinds: tuple[str, ...]  # what the message can become, in the order offered (NEED, …)
    contacts: tuple[Contact, ...]  # who to contact (empty: the community has no grid worker)


async def offers_for(uow: UnitOfWork, *, actor: Actor, now: datetime, per_member: int = needs.PER_MEMBER) -> Offers:
    """The offers that apply to this member now, and their grid worker(s)."""
    member = actor.registered()
    community = actor.home()
    kinds: list[str] = []
    if await needs.current_period(uow, community=community, now=now) is not None:
        try:
            await needs.check_allowance(uow, actor=actor, now=now, per_member=per_member)
            kinds.append(NEED)
        except LimitReached:
            pass  # all their needs of this collection are in: nothing to offer there
    kinds.append(REQUEST)  # every community takes requests (诉求)
    return Offers(kinds=tuple(kinds), contacts=await contacts_of(uow, community_id=member.community_id,
                                                                building_id=member.building_id))


async def contacts_of(uow: UnitOfWork, *, community_id: int, building_id: int | None) -> tuple[Contact, ...]:
    workers = (await places.grid_workers_of(uow, community_id=community_id, building_id=building_id))[:MAX_CONTACTS]
    if not workers:
        return ()
    users = {u.id: u for u in (await uow.session.exec(
        select(User).where(col(User.id).in_([w.user_id for w in workers])))).all()}
    return tuple(Contact(name=w.display_name or users[w.user_id].first_name, tg_id=users[w.user_id].tg_id)
                 for w in workers if w.user_id in users)
