"""Where handlers are registered (split from bot/core/dispatch.py, which re-exports these): commands with where they
work and who sees them, button prefixes, conversation flows and the other kinds of update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flows.roles import Perm

if TYPE_CHECKING:
    from bot.core.dispatch import Ctx

Handler = Callable[["Ctx"], Awaitable[None]]

PRIVATE, GROUP, ANYWHERE = "private", "group", "any"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    where: str  # PRIVATE | GROUP | ANYWHERE
    description: str  # msgid, shown in menus and /help
    perm: Perm | None = None  # who sees it in /help and menus (the flow checks again)
    member_only: bool = False
    menu: bool = True


class Router:
    """Collects handlers by command, callback prefix and conversation flow."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self.callbacks: dict[str, Handler] = {}
        self.stateless: set[str] = set()  # button prefixes whose handlers never read a conversation's state
        self.flows: dict[str, Handler] = {}
        self.bot_status: list[Handler] = []
        self.poll_answers: list[Handler] = []
        self.reactions: list[Handler] = []

    def command(self, name: str, *, where: str, description: str, perm: Perm | None = None,
                member_only: bool = False, menu: bool = True) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.commands[name] = CommandSpec(name, fn, where, description, perm, member_only, menu)
            return fn
        return register

    def callback(self, prefix: str, *, stateless: bool = False) -> Callable[[Handler], Handler]:
        """Register a button handler; `stateless` when it never reads `ctx.state` (saves a query per press
        on busy buttons such as the ballot's toggles)."""
        def register(fn: Handler) -> Handler:
            self.callbacks[prefix] = fn
            if stateless:
                self.stateless.add(prefix)
            return fn
        return register

    def flow(self, name: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.flows[name] = fn
            return fn
        return register

    def on_bot_status(self, fn: Handler) -> Handler:
        self.bot_status.append(fn)
        return fn

    def on_poll_answer(self, fn: Handler) -> Handler:
        self.poll_answers.append(fn)
        return fn

    def on_reaction(self, fn: Handler) -> Handler:
        self.reactions.append(fn)
        return fn

    def include(self, other: Router) -> None:
        """Add another router's handlers; a command, button prefix or flow name taken twice is a bug."""
        for kind, mine, theirs in (("command", self.commands, other.commands),
                                   ("callback prefix", self.callbacks, other.callbacks),
                                   ("flow", self.flows, other.flows)):
            clash = sorted(set(mine) & set(theirs))
            if clash:
                raise ValueError(f"{kind} registered twice: {', '.join(clash)}")
        self.commands.update(other.commands)
        self.callbacks.update(other.callbacks)
        self.stateless.update(other.stateless)
        self.flows.update(other.flows)
        self.bot_status.extend(other.bot_status)
        self.poll_answers.extend(other.poll_answers)
        self.reactions.extend(other.reactions)
