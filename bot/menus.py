"""What a person may do, by feature: the sections of /help and each person's own command menu.

- `grouped` sorts commands into the features' sections (a handler module belongs to one section; a module not
  listed goes under "More"), for /help and for the order of the menu.
- `allowed` is the one rule for who sees a command: where it works, registered members only, the permission it
  needs (flows/roles.py decides who holds which). /help and the menus both use it.
- `MenuOp` is the outbox op "menu" (queued by flows/menus.py): one setMyCommands call for the person's private
  chat (BotCommandScopeChat), worded in their language, with every private command they may use. It is set
  without a language_code, so it is the person's menu whatever language their Telegram app is in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.core.dispatch import ANYWHERE, CommandSpec
from bot.core.gateway import BotCommand, Gateway
from bot.core.i18n import N_, tr
from flows.roles import Perm

#: (heading, handler modules), in the order /help shows them.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("Registration and roles"), ("start", "roles", "leaving", "groups")),
    (N_("Care ledger"), ("care", "care_pairing", "visits", "visits_family")),
    (N_("Daily check-ins"), ("checkins",)),
    (N_("Needs"), ("needs", "needs_review", "myneeds", "freetext")),
    (N_("Voting"), ("ballot", "voting", "polls")),
    (N_("Projects"), ("projects", "board", "acceptance", "opendays")),
    (N_("Requests and the weekly meeting"), ("requests", "request_work", "meeting")),
    (N_("Announcements, exports and imports"), ("announce", "exports", "imports")),
    (N_("Community settings"), ("settings",)),
    (N_("Full-grid micro-governance"), ("teams", "wishes", "microposts")),
    (N_("Property evaluation"), ("property", "property_reply", "property_survey")),
    (N_("Micro spaces and jobs"), ("spaces", "loans", "jobs")),
)
OTHER = N_("More")
MAX_MENU = 100  # Telegram's limit per menu


def _section(spec: CommandSpec) -> int:
    module = spec.handler.__module__.rsplit(".", 1)[-1]
    return next((i for i, (_, modules) in enumerate(SECTIONS) if module in modules), len(SECTIONS))


def grouped(specs: Iterable[CommandSpec]) -> list[tuple[str, list[CommandSpec]]]:
    """The commands by section (heading msgid, commands in their registration order), empty sections left out."""
    buckets: dict[int, list[CommandSpec]] = {}
    for spec in specs:
        buckets.setdefault(_section(spec), []).append(spec)
    headings = [heading for heading, _ in SECTIONS] + [OTHER]
    return [(headings[i], buckets[i]) for i in sorted(buckets)]


def allowed(specs: Iterable[CommandSpec], where: str, *, perms: frozenset[Perm] | None, member: bool) -> list[CommandSpec]:
    """The commands that work `where` (PRIVATE or GROUP) for someone holding `perms` (None: nobody known)."""
    out = []
    for spec in specs:
        if spec.where not in (where, ANYWHERE):
            continue
        if perms is None:
            if spec.perm is not None:
                continue
        elif (spec.member_only and not member) or (spec.perm is not None and spec.perm not in perms):
            continue
        out.append(spec)
    return out


def menu(specs: Iterable[CommandSpec], lang: str, *, perms: frozenset[Perm], member: bool) -> list[BotCommand]:
    """A person's private-chat menu: what they may use there, section by section, in their language."""
    mine = allowed([s for s in specs if s.menu], "private", perms=perms, member=member)
    ordered = [spec for _, section in grouped(mine) for spec in section]
    return [BotCommand(spec.name, tr(lang, spec.description)[:256]) for spec in ordered][:MAX_MENU]


def _perms(values: Iterable[str]) -> frozenset[Perm]:
    out = set()
    for value in values:
        try:
            out.add(Perm(value))
        except ValueError:  # a permission that no longer exists gives nothing
            continue
    return frozenset(out)


class MenuOp:
    """The sender's "menu" op: set the person's menu from the row's payload (bot/outbox.py `ops`)."""

    def __init__(self, commands: Mapping[str, CommandSpec]) -> None:
        self.commands = commands  # the running bot's commands (the sandbox adds its own)

    async def __call__(self, gateway: Gateway, chat_id: int, payload: dict[str, Any]) -> None:
        commands = menu(self.commands.values(), str(payload.get("lang") or "zh_CN"),
                        perms=_perms(payload.get("perms") or ()), member=bool(payload.get("member")))
        await gateway.set_commands(commands, "chat", None, chat_id=chat_id)
