"""The needs list's notices (需求清单): the collection opening and the groups' reminders, and what the
author of a need is told when it is merged, not taken up, or made a candidate project (a need a grid worker
entered for them is worded so: "网格员代您提交的需求")."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, OutMessage
from bot.render import NoticeRenderer, h
from flows.needs import NeedCandidate, NeedMerged, NeedRejected, NeedsOpened
from flows.needs_reminders import NeedsReminder

#: How a need was raised (also the need dialog's wording, bot/handlers/needs.py).
CHANNEL_NAMES = {"chat": N_("chat"), "door_visit": N_("door visit"), "meeting": N_("multi-committee meeting"),
                 "rep_meeting": N_("representatives' meeting")}


def _n_open(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "📝 The needs list (需求清单) of {community} for {year} is open! What should the community "
                    "do this year? Tell us: /need followed by your need here, or in a private chat.",
              community=h(p.get("community", "")), year=p.get("year", ""))
    if p.get("closes_on"):
        text += "\n" + tr(lang, "It closes on {day}.", day=p["closes_on"])
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "✍ Submit a need"), url=r.deep_link("need"))]])


def need_ref(lang: str, number: object, channel: object, *, author: bool = True) -> str:
    """A need as its recipient knows it: their own, one a grid worker (or a meeting) recorded for them, or one
    they supported with "+1"."""
    if not author:
        return tr(lang, "Need #{number}, which you supported with “+1”,", number=number)
    if channel == "door_visit":
        return tr(lang, "The need the grid worker entered for you (#{number})", number=number)
    if channel in ("meeting", "rep_meeting"):
        return tr(lang, "The need recorded for you at the {channel} (#{number})", number=number,
                  channel=tr(lang, CHANNEL_NAMES[str(channel)]))
    return tr(lang, "Your need #{number}", number=number)


def _entered(p: dict[str, Any]) -> bool:
    """A need someone else recorded for its author (a door visit, a meeting): worded as such."""
    return p.get("channel", "chat") != "chat"


def _n_merged(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if _entered(p):
        need = need_ref(lang, p.get("number"), p.get("channel"))
        if p.get("own"):
            return OutMessage(text=tr(lang, "{need} was merged into your need #{into}, which asks for the same.",
                                      need=need, into=p.get("into")))
        return OutMessage(text=tr(lang, "{need} was merged into need #{into}, which asks for the same. You now "
                                        "support need #{into}.", need=need, into=p.get("into")))
    if p.get("own"):
        return OutMessage(text=tr(lang, "Your need #{number} was merged into your need #{into}, which asks for the "
                                        "same.", number=p.get("number"), into=p.get("into")))
    return OutMessage(text=tr(lang, "Your need #{number} was merged into need #{into}, which asks for the same. "
                                    "You now support need #{into}.", number=p.get("number"), into=p.get("into")))


def _n_rejected(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if _entered(p):
        return OutMessage(text=tr(lang, "{need} is not taken up this year. Reason: {reason}",
                                  need=need_ref(lang, p.get("number"), p.get("channel")), reason=h(p.get("reason", ""))))
    return OutMessage(text=tr(lang, "Your need #{number} is not taken up this year. Reason: {reason}",
                              number=p.get("number"), reason=h(p.get("reason", ""))))


def _n_candidate(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if _entered(p):
        return OutMessage(text=tr(lang, "🎉 {need} is now a candidate project: “{title}”. The residents' "
                                        "representatives will vote on the candidates.",
                                  need=need_ref(lang, p.get("number"), p.get("channel")), title=h(p.get("title", ""))))
    return OutMessage(text=tr(lang, "🎉 Your need #{number} is now a candidate project: “{title}”. The residents' "
                                    "representatives will vote on the candidates.",
                              number=p.get("number"), title=h(p.get("title", ""))))


def _n_remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p.get("last") and p.get("closes_on"):
        text = tn(lang, "⏰ Last call: the needs list (需求清单) of {community} for {year} closes on {day}. "
                        "{n} need so far — is yours among them? /need followed by your need here, or in a "
                        "private chat.",
                  "⏰ Last call: the needs list (需求清单) of {community} for {year} closes on {day}. "
                  "{n} needs so far — is yours among them? /need followed by your need here, or in a "
                  "private chat.", int(p.get("count") or 0), community=h(p.get("community", "")),
                  year=p.get("year", ""), day=p["closes_on"])
    else:
        text = tn(lang, "📝 The needs list (需求清单) of {community} for {year} is still open: {n} need so far. "
                        "What else should the community do? /need followed by your need here, or in a private "
                        "chat.",
                  "📝 The needs list (需求清单) of {community} for {year} is still open: {n} needs so far. "
                  "What else should the community do? /need followed by your need here, or in a private "
                  "chat.", int(p.get("count") or 0), community=h(p.get("community", "")), year=p.get("year", ""))
        if p.get("closes_on"):
            text += "\n" + tr(lang, "It closes on {day}.", day=p["closes_on"])
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "✍ Submit a need"), url=r.deep_link("need"))]])


NOTICES = {NeedsOpened.kind: _n_open, NeedsReminder.kind: _n_remind, NeedMerged.kind: _n_merged,
           NeedRejected.kind: _n_rejected, NeedCandidate.kind: _n_candidate}

