"""The needs list's notices (需求清单): the collection opening and the groups' reminders, and what the
author of a need is told when it is merged, not taken up, or made a candidate project."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import tr
from bot.core.types import Button, OutMessage
from bot.render import NoticeRenderer, h


def _n_open(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "📝 The needs list (需求清单) of {community} for {year} is open! What should the community "
                    "do this year? Tell us: /need followed by your need here, or in a private chat.",
              community=h(p.get("community", "")), year=p.get("year", ""))
    if p.get("closes_on"):
        text += "\n" + tr(lang, "It closes on {day}.", day=p["closes_on"])
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "✍ Submit a need"), url=r.deep_link("need"))]])


def _n_merged(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p.get("own"):
        return OutMessage(text=tr(lang, "Your need #{number} was merged into your need #{into}, which asks for the "
                                        "same.", number=p.get("number"), into=p.get("into")))
    return OutMessage(text=tr(lang, "Your need #{number} was merged into need #{into}, which asks for the same. "
                                    "You now support need #{into}.", number=p.get("number"), into=p.get("into")))


def _n_rejected(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "Your need #{number} is not taken up this year. Reason: {reason}",
                              number=p.get("number"), reason=h(p.get("reason", ""))))


def _n_candidate(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🎉 Your need #{number} is now a candidate project: “{title}”. The residents' "
                                    "representatives will vote on the candidates.",
                              number=p.get("number"), title=h(p.get("title", ""))))


def _n_remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p.get("last") and p.get("closes_on"):
        text = tr(lang, "⏰ Last call: the needs list (需求清单) of {community} for {year} closes on {day}. "
                        "{count} needs so far — is yours among them? /need followed by your need here, or in a "
                        "private chat.", community=h(p.get("community", "")), year=p.get("year", ""),
                  day=p["closes_on"], count=p.get("count", 0))
    else:
        text = tr(lang, "📝 The needs list (需求清单) of {community} for {year} is still open: {count} needs so far. "
                        "What else should the community do? /need followed by your need here, or in a private "
                        "chat.", community=h(p.get("community", "")), year=p.get("year", ""),
                  count=p.get("count", 0))
        if p.get("closes_on"):
            text += "\n" + tr(lang, "It closes on {day}.", day=p["closes_on"])
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "✍ Submit a need"), url=r.deep_link("need"))]])


NOTICES = {"needs_open": _n_open, "needs_remind": _n_remind, "need_merged": _n_merged, "need_rejected": _n_rejected,
           "need_candidate": _n_candidate}

