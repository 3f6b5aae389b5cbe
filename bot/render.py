"""Display names and the rendering of outbox notices (flows queue keys, we write the words)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from html import escape
from typing import Any

from bot.core import callbacks
from bot.core.i18n import N_, tr
from bot.core.types import Button, OutMessage
from flows.chats import GroupWelcome
from flows.clock import Clock
from flows.roles import InviteUsed, RoleGranted, RoleRevoked

ROLE_NAMES = {
    "resident": N_("resident"),
    "representative": N_("residents' representative"),
    "volunteer": N_("volunteer"),
    "enthusiast": N_("building enthusiast"),
    "grid_worker": N_("grid worker"),
    "committee": N_("committee member"),
    "handler": N_("request handler"),
    "property_staff": N_("property company staff"),
    "admin": N_("community admin"),
    "district_admin": N_("district admin"),
    "family": N_("family member of a key person"),  # not a role: a family invite (flows/visits/family.py)
}

ORG_NAMES = {
    "rc": N_("residents' committee"),
    "oc": N_("owners' committee"),
    "property": N_("property company"),
    "unit": N_("resident unit"),
    "police": N_("community police"),
}

PURPOSE_NAMES = {
    "community": N_("community group"),
    "building": N_("building group"),
    "committee": N_("multi-committee office group"),
    "volunteers": N_("volunteers' group"),
}


def role_name(lang: str, role: str, org: str | None = None) -> str:
    name = tr(lang, ROLE_NAMES.get(role, role))
    if org:
        name += f"（{tr(lang, ORG_NAMES.get(org, org))}）" if lang.startswith("zh") else f" ({tr(lang, ORG_NAMES.get(org, org))})"
    return name


def roles_list(lang: str, roles: tuple[str, ...] | list[str], org: str | None = None) -> str:
    sep = "、" if lang.startswith("zh") else ", "
    return sep.join(role_name(lang, r, org if r in ("committee", "handler") else None) for r in roles)


def purpose_name(lang: str, purpose: str, building: str | None = None) -> str:
    if purpose == "building" and building:
        return tr(lang, "Building {building} group", building=building)
    return tr(lang, PURPOSE_NAMES.get(purpose, purpose))


def h(text: object) -> str:
    """Escape user-supplied text for Telegram HTML."""
    return escape(str(text), quote=False)


#: A feature's notice: (renderer, language, parameters) → message. Features list theirs in a
#: module-level ``NOTICES`` dict (see bot/handlers/__init__.py: build_notices).
NoticeFn = Callable[["NoticeRenderer", str, dict[str, Any]], OutMessage]


class NoticeRenderer:
    """Turns an outbox payload into a message, in the language stored with it."""

    def __init__(self, *, secret: bytes, clock: Clock, bot_username: str,
                 button_ttl: timedelta = timedelta(hours=72), extra: Mapping[str, NoticeFn] | None = None) -> None:
        self.secret = secret
        self.clock = clock
        self.bot_username = bot_username
        self.button_ttl = button_ttl
        self.notices: dict[str, Callable[[str, dict[str, Any]], OutMessage]] = {
            GroupWelcome.kind: self._group_welcome,
            InviteUsed.kind: self._invite_used,
            RoleGranted.kind: self._role_granted,
            RoleRevoked.kind: self._role_revoked,
        }
        for key, fn in (extra or {}).items():
            self.notices[key] = lambda lang, params, fn=fn: fn(self, lang, params)

    def __call__(self, payload: dict[str, Any]) -> OutMessage:
        if "message" in payload:
            return OutMessage.from_payload(payload["message"])
        notice = payload["notice"]
        return self.notices[notice](payload.get("lang") or "zh_CN", payload.get("params") or {})

    def deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.bot_username}?start={payload}"

    def button(self, text: str, *fields: str | int) -> Button:
        now: datetime = self.clock.now()
        return Button(text=text, data=callbacks.pack(self.secret, list(fields), now=now, ttl=self.button_ttl))

    # ------------------------------------------------------------------ notices

    def _group_welcome(self, lang: str, p: dict[str, Any]) -> OutMessage:
        text = tr(lang, "Hello, I am Linli (邻里), the community assistant.\n"
                       "A community admin links this group by tapping a button below, or with\n"
                       "/link community · /link building 3 · /link committee · /link volunteers")
        buttons = [
            [self.button(tr(lang, "Community group"), "lk", "community"),
             self.button(tr(lang, "Building group…"), "lk", "building")],
            [self.button(tr(lang, "Multi-committee office"), "lk", "committee"),
             self.button(tr(lang, "Volunteers' group"), "lk", "volunteers")],
        ]
        return OutMessage(text=text, buttons=buttons)

    def _invite_used(self, lang: str, p: dict[str, Any]) -> OutMessage:
        return OutMessage(text=tr(lang, "✅ {name} used your invite and is now a {role} (member no. {member_id}).",
                                 name=h(p.get("name", "")), role=role_name(lang, p.get("role", "")),
                                 member_id=p.get("member_id", "")))

    def _role_granted(self, lang: str, p: dict[str, Any]) -> OutMessage:
        return OutMessage(text=tr(lang, "🎉 You are now a {role} in {community}. Send /help to see what you can do.",
                                 role=role_name(lang, p.get("role", ""), p.get("organisation")),
                                 community=h(p.get("community", ""))))

    def _role_revoked(self, lang: str, p: dict[str, Any]) -> OutMessage:
        return OutMessage(text=tr(lang, "Your role {role} in {community} has ended. Thank you for your work!",
                                 role=role_name(lang, p.get("role", "")), community=h(p.get("community", ""))))
