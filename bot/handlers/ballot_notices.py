"""The ballot's notices (居民代表点选): the opening to voters and groups, the reminder, the result and the tie,
worded for the outbox; and the small helpers the ballot's replies share with them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.core.i18n import tn, tr
from bot.core.types import Button, Keyboard, OutMessage
from bot.render import NoticeRenderer, h
from flows.ballot import BallotOpened, BallotOpenedGroup, BallotReminder, BallotResult, BallotTie
from flows.clock import local

DEFAULT_TZ = "Asia/Shanghai"


def _when(at: datetime, tz: str) -> str:
    return local(at, tz).strftime("%Y-%m-%d %H:%M")


def _iso_when(value: object, tz: str = DEFAULT_TZ) -> str:
    """A notice's ISO time, shown in the community's local time (the notice's `tz`)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return h(value)
    return _when(at if at.tzinfo else at.replace(tzinfo=UTC), tz)


def _ranked(lang: str, rows: list[tuple[str, int, bool]]) -> list[str]:
    """"1. 楼道灯改造 — 23 票 ✅" lines, by votes."""
    out = []
    for i, (title, votes, elected) in enumerate(rows, 1):
        line = tn(lang, "{place}. {title} — {n} vote", "{place}. {title} — {n} votes", votes, place=i, title=h(title))
        out.append(line + (" ✅ " + tr(lang, "elected") if elected else ""))
    return out


def _head(lang: str, p: dict[str, Any]) -> str:
    if int(p.get("round") or 1) > 1:
        return tr(lang, "<b>Representatives' ballot {year}</b> · run-off (round {round})", year=p.get("year", ""),
                  round=p.get("round"))
    return tr(lang, "<b>Representatives' ballot {year}</b>", year=p.get("year", ""))


def _vote_button(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> Keyboard:
    """A deep link, not a signed button: it must still work on the last day of a long ballot."""
    return [[Button(text=tr(lang, "🗳 Open my ballot"), url=r.deep_link("vote"))]]


def _n_open(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = _head(lang, p) + "\n" + tn(
        lang, "🗳 You are asked, as a residents' representative, to choose this year's projects from {n} "
              "candidate: choose {minimum}–{choose}, until {closes}. Your choices are secret.",
        "🗳 You are asked, as a residents' representative, to choose this year's projects from {n} "
        "candidates: choose {minimum}–{choose}, until {closes}. Your choices are secret.",
        int(p.get("candidates") or 0), minimum=p.get("minimum", ""), choose=p.get("choose", ""),
        closes=_iso_when(p.get("closes_at", ""), str(p.get("tz") or DEFAULT_TZ)))
    return OutMessage(text=text, buttons=_vote_button(r, lang, p))


def _n_open_group(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=_head(lang, p) + "\n" + tn(
        lang, "🗳 The representatives' ballot has begun: {n} residents' representative chooses this year's "
              "projects (民生实事) until {closes}. /ballot shows the turnout.",
        "🗳 The representatives' ballot has begun: {n} residents' representatives choose this year's "
        "projects (民生实事) until {closes}. /ballot shows the turnout.", int(p.get("voters") or 0), closes=_iso_when(p.get("closes_at", ""), str(p.get("tz") or DEFAULT_TZ))))


def _n_remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=_head(lang, p) + "\n" + tr(
        lang, "⏰ Reminder: the ballot closes at {closes} and you have not voted yet.",
        closes=_iso_when(p.get("closes_at", ""), str(p.get("tz") or DEFAULT_TZ))), buttons=_vote_button(r, lang, p))


def _n_result(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    rows = [(str(x.get("title", "")), int(x.get("votes") or 0), bool(x.get("elected"))) for x in p.get("rows", [])]
    rows.sort(key=lambda x: -x[1])
    lines = [_head(lang, p), tn(lang, "📊 The result: {voted}/{n} representative voted.",
                                "📊 The result: {voted}/{n} representatives voted.", int(p.get("voters") or 0),
                                voted=p.get("voted", ""))] + _ranked(lang, rows)
    if p.get("decided"):
        titles = ("、" if lang.startswith("zh") else ", ").join(h(str(t)) for t in p["decided"])
        lines.append(tr(lang, "⚖ The votes tied at the cut-off; the admins decided for: {titles}.", titles=titles))
    return OutMessage(text="\n".join(lines))


def _n_tie(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    bid = int(p.get("ballot_id") or 0)
    tied = p.get("tied", [])
    seats = p.get("seats_left", "")
    text = _head(lang, p) + "\n" + tn(
        lang, "⚖ Tie: {tied} candidates with the same votes for {n} seat left. Pick {n}, or hold a run-off.",
        "⚖ Tie: {tied} candidates with the same votes for {n} seats left. Pick {n}, or hold a run-off.",
        int(seats or 0), tied=len(tied))
    rows = [[r.button(f"⬜ {x.get('title', '')} ({x.get('votes', 0)})", "bt", "p", bid, int(x.get("id") or 0))]
            for x in tied]
    rows.append([r.button(tr(lang, "✔ Decide ({picked}/{seats})", picked=0, seats=seats), "bt", "ok", bid),
                 r.button(tr(lang, "🔁 Run-off"), "bt", "r", bid)])
    return OutMessage(text=text, buttons=rows)


NOTICES = {BallotOpened.kind: _n_open, BallotOpenedGroup.kind: _n_open_group, BallotReminder.kind: _n_remind,
           BallotResult.kind: _n_result, BallotTie.kind: _n_tie}

