"""The monthly property ranking's group posts (#15, F-10.3): the text (the community's own projects with their
score, rank, trend ↑↓→ against last month, complaint rate per 1,000 households and last year's, "样本不足" when
the survey had too few answers, the company's replies beside its deductions, 约谈 flags; the district's count,
top and bottom three) and the picture, drawn like the projects board (bot/pictures/board.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.core.i18n import tn, tr
from bot.core.types import OutMessage
from bot.pictures import board as picture
from bot.render import NoticeRenderer, h
from flows.property.notices import RankingPicture, RankingPosted

GOOD, FAIR = 85.0, 70.0  # score bands of the picture's colours (Jinan's credit bands: AAA ≥ 85, A ≥ 70)


def _shares(p: dict[str, Any]) -> dict[str, float]:
    shares = p.get("shares") or {}
    return {k: float(shares.get(k, d)) for k, d in (("items", 70), ("satisfaction", 20), ("complaints", 10))}


def _rate(lang: str, r: dict[str, Any]) -> str:
    if r.get("rate") is None:
        return ""
    text = tr(lang, "complaints {rate:g}‰", rate=r["rate"])
    if r.get("rate_last_year") is not None:
        text += tr(lang, " (a year ago {rate:g}‰)", rate=r["rate_last_year"])
    return text


def line(lang: str, r: dict[str, Any]) -> str:
    """A project's line: rank, name, score and trend — or 样本不足 — and its complaint rates."""
    name = f"{h(r['estate'])}（{h(r['company'])}）" if lang.startswith("zh") else f"{h(r['estate'])} ({h(r['company'])})"
    if r.get("rank") is None:
        if r.get("total") is None and r.get("answers", 0) < r.get("required", 0):
            head = tr(lang, "— {name}: too few survey answers ({answers}/{required}), not ranked", name=name,
                      answers=r.get("answers", 0), required=r.get("required", 0))
        else:
            head = tr(lang, "— {name}: not scored this month, not ranked", name=name)
    else:
        head = tr(lang, "{rank}. {name}: {total:g} points {trend}", rank=r["rank"], name=name, total=r["total"],
                  trend=r.get("trend") or "").rstrip()
    rate = _rate(lang, r)
    text = head + (f" · {rate}" if rate else "")
    if r.get("flagged"):
        text += "\n   " + tr(lang, "⚠️ bottom three three months running: a talk (约谈) on the weekly meeting")
    for reply in r.get("replies") or []:
        text += "\n   " + tr(lang, "💬 {code} ({points:g}/{weight:g}) the company replies: {reply}", code=reply["code"],
                                points=reply["points"], weight=reply["weight"], reply=h(reply["reply"]))
    return text


def ranking_text(lang: str, p: dict[str, Any]) -> str:
    lines = [tr(lang, "🏢 <b>Property service ranking</b> · {community} · {month}", community=h(p.get("community", "")),
                month=p.get("month", ""))]
    lines += [line(lang, r) for r in p.get("rows") or []]
    lines += ["", tn(lang, "District: {n} project ranked, {unranked} not ranked.",
                     "District: {n} projects ranked, {unranked} not ranked.", int(p.get("ranked") or 0),
                     unranked=p.get("unranked", 0))]
    if p.get("top"):
        lines.append(tr(lang, "Top: {names}", names="、".join(f"{r['rank']}. {h(r['estate'])}" for r in p["top"])))
    if p.get("bottom"):
        lines.append(tr(lang, "Bottom: {names}", names="、".join(f"{r['rank']}. {h(r['estate'])}"
                                                                for r in p["bottom"])))
    lines.append(tr(lang, "Score = the committee's items {items:g} % + residents' satisfaction {satisfaction:g} % + "
                          "12345 complaints per 1,000 households {complaints:g} %. The web board has the whole "
                          "ranking.", **_shares(p)))
    return "\n".join(lines)


def _n_ranking(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=ranking_text(lang, p)[:4096])


def picture_file(lang: str, p: dict[str, Any]) -> Path:
    rows = p.get("rows") or []
    bars = [{"colour": "green" if (r.get("total") or 0) >= GOOD else "yellow" if (r.get("total") or 0) >= FAIR
             else "red", "percent": round(r.get("total") or 0)} for r in rows]
    labels = picture.Labels(
        title=tr(lang, "{community} property service ranking", community=p.get("community", "")),
        subtitle=tn(lang, "{month} · {n} project", "{month} · {n} projects", len(rows), month=p.get("month", "")),
        legend=[("green", tr(lang, "≥ 85 points")), ("yellow", tr(lang, "70–85")), ("red", tr(lang, "< 70"))],
        lines=[((f"{r['rank']}. " if r.get("rank") else "— ") + f"{r['estate']}（{r['company']}）{r.get('trend') or ''}",
                _rate(lang, r) if r.get("rank") else tr(lang, "not ranked")) for r in rows],
        footer=tr(lang, "Items {items:g} % · satisfaction {satisfaction:g} % · complaints per 1,000 households "
                        "{complaints:g} %", **_shares(p)),
        empty=tr(lang, "No property project."))
    return picture.cached_file(bars, labels)


def _n_ranking_pic(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🏢 Property service ranking, {month}", month=p.get("month", "")),
                      photo=str(picture_file(lang, p)))


NOTICES = {RankingPosted.kind: _n_ranking, RankingPicture.kind: _n_ranking_pic}
