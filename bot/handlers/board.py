"""The projects board (实事进度公示栏): /board in any linked group (and in private for members) shows the
year's projects with their colour, percent, owner and next milestone; a button per project opens its
page with the timeline (in private edited in place, ◀ back; in a group the button is a deep link to the
private chat, so the group's message is never rewritten for one presser). The monthly board post (text, edited in place, and a
picture) and the committee's digests are outbox notices worded here."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.common import grid, int_arg
from bot.handlers.needs_words import cat_name
from bot.pictures import board as picture
from bot.render import NoticeRenderer, h
from flows import board, membership
from flows.clock import local
from flows.errors import FlowError, NotFound, NotRegistered
from storage.models import Community

router = Router()

EMOJI = {"green": "🟢", "yellow": "🟡", "red": "🔴"}
COLOUR_NAMES = {"green": N_("done"), "yellow": N_("in progress"), "red": N_("behind")}
REASONS = {"override": N_("set by an admin"), "done": N_("completed"),
           "after_photo_missing": N_("waiting for the “after” photo"),
           "milestone_overdue": N_("a milestone is overdue"), "deadline_passed": N_("the deadline has passed"),
           "no_report": N_("no recent progress report")}
BAR = 10
LINK = "project_"  # /start project_<id>: a project's page in private (the group board's buttons)


def explain_board(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, NotFound) and err.what == "link":
        return ctx.t("This group is not linked to a community yet, so it has no board. An admin links it with "
                     "/link first.")
    if isinstance(err, NotFound) and err.what == "project":
        return ctx.t("That project is not on this community's board.")
    if isinstance(err, NotRegistered):
        return ctx.t("The board shows your community's projects: please register first — send /start to me "
                     "in a private chat.")
    return None


# ---------------------------------------------------------------- wording (shared by replies and notices)


def reasons_text(lang: str, reasons: list[str] | tuple[str, ...], override_reason: str | None = None) -> str:
    sep = "、" if lang.startswith("zh") else ", "
    words = [tr(lang, REASONS[r]) for r in reasons if r in REASONS and r != "done"]
    if override_reason:
        words.append(h(override_reason))
    return sep.join(words)


def bar(percent: int) -> str:
    cells = round(max(0, min(100, percent)) / 100 * BAR)
    return "▓" * cells + "░" * (BAR - cells)


def row_detail(lang: str, r: dict[str, Any], *, emoji: bool = False) -> str:
    """The second line of a row: owner and next milestone, or likes and rating once finished (with 👍/⭐ in
    text; the picture's font has no emoji, so it gets words)."""
    parts = [tr(lang, "Owner: {name}", name=r["owner"]) if r.get("owner") else tr(lang, "Owner: not assigned")]
    if r.get("completed"):
        likes, rating, raters = r.get("likes", 0), r.get("rating"), r.get("raters", 0)
        parts.append(f"👍 {likes}" if emoji else tr(lang, "Likes {likes}", likes=likes))
        if rating is not None:
            parts.append(tn(lang, "⭐ {rating} ({n} rating)", "⭐ {rating} ({n} ratings)", raters, rating=rating) if emoji
                         else tn(lang, "Rating {rating} ({n} rating)", "Rating {rating} ({n} ratings)", raters,
                                 rating=rating))
    elif r.get("next_title"):
        parts.append(tr(lang, "Next: {title} by {due}", title=r["next_title"], due=r.get("next_due", "")))
    return " · ".join(parts)


def row_text(lang: str, r: dict[str, Any]) -> str:
    head = f"{EMOJI.get(r['colour'], '⚪')} <b>{r['number']}. {h(r['title'])}</b> · {r['percent']}%"
    out = f"{head}\n    {h(row_detail(lang, r, emoji=True))}"
    if r["colour"] == "red":
        out += "\n    " + tr(lang, "Behind: {reasons}", reasons=reasons_text(lang, r.get("reasons", ()),
                                                                          r.get("override_reason")))
    return out


def legend(lang: str) -> str:
    return " · ".join(f"{EMOJI[c]} {tr(lang, COLOUR_NAMES[c])}" for c in ("green", "yellow", "red"))


def board_title(lang: str, community: str, year: int) -> str:
    return tr(lang, "{community} · livelihood projects {year} (实事进度公示栏)", community=community, year=year)


def board_text(lang: str, p: dict[str, Any], *, posted: bool = False) -> str:
    rows = p.get("rows") or []
    lines = [f"📋 <b>{h(board_title(lang, p.get('community', ''), p.get('year', '')))}</b>", legend(lang), ""]
    if not rows:
        lines.append(tr(lang, "No projects this year yet: they come from the residents' representatives' vote."))
    lines += [row_text(lang, r) for r in rows]
    if posted:
        lines += ["", tr(lang, "Updated {month}. Send /board for each project's timeline.", month=p.get("month", ""))]
    return "\n".join(lines)


def picture_labels(lang: str, p: dict[str, Any]) -> picture.Labels:
    rows = p.get("rows") or []
    counts = {c: sum(1 for r in rows if r["colour"] == c) for c in EMOJI}
    return picture.Labels(
        title=board_title(lang, p.get("community", ""), p.get("year", "")),
        subtitle=tn(lang, "{month} · {n} project · {green} done, {yellow} in progress, {red} behind",
                    "{month} · {n} projects · {green} done, {yellow} in progress, {red} behind", len(rows),
                    month=p.get("month", ""), **counts),
        legend=[(c, tr(lang, COLOUR_NAMES[c])) for c in ("green", "yellow", "red")],
        lines=[(f"{r['number']}. {r['title']}", row_detail(lang, r)) for r in rows],
        footer=tr(lang, "Colours follow the schedule: a missed milestone or deadline, or no report for over a "
                        "month, turns a project red."),
        empty=tr(lang, "No projects this year yet."))


# ---------------------------------------------------------------- /board and the project pages


async def _community(ctx: Ctx) -> Community:
    chat = ctx.event.chat
    assert chat is not None
    if chat.is_private:
        if ctx.actor.member is None or ctx.actor.community is None:
            raise NotRegistered()
        return ctx.actor.community
    _, community, _ = await membership.chat_info(ctx.uow, tg_chat_id=chat.id)
    if community is None:
        raise NotFound("link")
    return community


async def _board(ctx: Ctx) -> None:
    """The board; its buttons open a project's page — in a group, privately (a deep link): the group's
    message is everybody's and stays as it is."""
    community = await _community(ctx)
    b = await board.board(ctx.uow, community=community, now=ctx.now)
    params = b.params()
    private = ctx.event.chat is not None and ctx.event.chat.is_private
    labels = [(f"{EMOJI[r.colour]} {r.number}. {r.title[:12]}", r.id) for r in b.rows]
    buttons: Keyboard = grid([ctx.button(label, "bd", "p", pid) if private
                              else ctx.url_button(label, ctx.deep_link(f"{LINK}{pid}")) for label, pid in labels], 2)
    text = board_text(ctx.lang, params)
    if ctx.core.public_url:  # the public board on the web (LINLI_PUBLIC_URL)
        url = f"{ctx.core.public_url.rstrip('/')}/c/{quote(community.slug)}"
        text += "\n\n" + ctx.t("🔗 The board on the web: {url}", url=h(url))
    ctx.show(text, buttons or None)


async def _page(ctx: Ctx, community: Community, project_id: int) -> tuple[str, Keyboard]:
    pg = await board.page(ctx.uow, community=community, project_id=project_id, now=ctx.now)
    return page_text(ctx, pg, community), [[ctx.button(ctx.t("◀ Board"), "bd", "b")]]


async def from_link(ctx: Ctx, payload: str) -> None:
    """/start project_<id>: a project's page in private (the group board's buttons)."""
    project_id = int_arg(payload[len(LINK):])
    if project_id is None:
        raise NotFound("project", payload)
    pg, community = await board.page_of_member(ctx.uow, user=ctx.actor.user, project_id=project_id, now=ctx.now)
    ctx.reply(page_text(ctx, pg, community), [[ctx.button(ctx.t("◀ Board"), "bd", "b")]])


@router.command("board", where=ANYWHERE, description=N_("The projects board: progress of this year's projects"))
async def board_command(ctx: Ctx) -> None:
    await _board(ctx)


def page_text(ctx: Ctx, pg: board.Page, community: Community) -> str:
    r, tz = pg.row, community.timezone
    lines = [f"{EMOJI[r.colour]} <b>{r.number}. {h(r.title)}</b> · {ctx.t(COLOUR_NAMES[r.colour])}",
             ctx.t("Category: {category}", category=h(cat_name(ctx.lang, pg.category))),
             h(row_detail(ctx.lang, r.params())).split(" · ")[0]]
    if pg.deadline:
        lines.append(ctx.t("Deadline: {day}", day=pg.deadline.isoformat()))
    if pg.budget_yuan is not None:
        lines.append(ctx.t("Budget: {yuan} yuan", yuan=f"{pg.budget_yuan:,}")
                     + (f" · {h(pg.funding)}" if pg.funding else ""))
    lines.append(ctx.t("Progress: {bar} {percent}%", bar=bar(r.percent), percent=r.percent))
    if r.colour == "red":
        lines.append(ctx.t("Behind: {reasons}", reasons=reasons_text(ctx.lang, r.reasons, r.override_reason)))
    elif r.override_reason:
        lines.append(ctx.t("Set by an admin: {reason}", reason=h(r.override_reason)))
    lines += ["", ctx.t("<b>Milestones</b>")]
    for m in pg.milestones:
        if m.done_on is not None:
            lines.append(ctx.t("✅ {title} · due {due} · done {done}", title=h(m.title), due=m.due_on.isoformat(),
                               done=m.done_on.isoformat()))
        else:
            lines.append(ctx.t("⏳ {title} · due {due}", title=h(m.title), due=m.due_on.isoformat()))
    if not pg.milestones:
        lines.append(ctx.t("No milestones set yet."))
    lines += ["", ctx.t("<b>Progress reports</b>")]
    for rep in pg.reports:
        day = local(rep.at, tz)
        line = f"{day.date().isoformat()} · {rep.percent}%"
        if rep.note:
            line += f" · {h(rep.note)}"
        if rep.photos:
            line += " " + ctx.t("(📷 {count})", count=rep.photos)
        lines.append(line)
    if not pg.reports:
        lines.append(ctx.t("No progress reports yet."))
    lines.append(ctx.t("Photos: {before} before · {progress} during · {after} after",
                       before=pg.photos.get("before", 0), progress=pg.photos.get("progress", 0),
                       after=pg.photos.get("after", 0)))
    if pg.completed_at is not None:
        lines.append(ctx.t("🎉 Completed on {day}.", day=local(pg.completed_at, tz).date().isoformat()))
        lines.append(h(row_detail(ctx.lang, r.params(), emoji=True)).split(" · ", 1)[1])
    return "\n".join(lines)


@router.callback("bd")
async def board_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    project_id = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    chat = ctx.event.chat
    if chat is not None and not chat.is_private:  # a board posted in a group before its buttons were links
        if ctx.actor.member is None or ctx.actor.community is None:
            raise NotRegistered()
        if action == "p" and project_id is not None:  # the page goes to the presser, the group's message stays
            ctx.reply(*await _page(ctx, await _community(ctx), project_id), chat_id=ctx.actor.user.tg_id)
            ctx.toast(ctx.t("I sent you the project's page in our private chat."))
        else:
            ctx.toast(ctx.t("Send /board to me in a private chat to browse the projects."), alert=True)
        return
    if action == "p" and project_id is not None:
        ctx.edit(*await _page(ctx, await _community(ctx), project_id))
    else:
        await _board(ctx)


# ---------------------------------------------------------------- notices


def _n_board(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=board_text(lang, p, posted=True))


def picture_file(lang: str, p: dict[str, Any]) -> Path:
    """The board picture's PNG (drawn once per content; the scheduler draws it ahead in a thread)."""
    return picture.cached_file(p.get("rows") or [], picture_labels(lang, p))


def _n_board_pic(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    path = picture_file(lang, p)
    caption = tr(lang, "📋 {title}, {month}", title=h(board_title(lang, p.get("community", ""), p.get("year", ""))),
                 month=p.get("month", ""))
    return OutMessage(text=caption, photo=str(path))


def _n_weekly(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    lines = [tr(lang, "🗓 <b>Weekly projects digest</b> · {community}", community=h(p.get("community", "")))]
    if p.get("changed"):
        lines += ["", tr(lang, "<b>Reported this week</b>")]
        lines += [tn(lang, "{number}. {title}: {n} report, now {percent}%", "{number}. {title}: {n} reports, now {percent}%",
                     int(c["reports"] or 0), number=c["number"], title=h(c["title"]), percent=c["percent"]) for c in p["changed"]]
    if p.get("turned_red"):
        lines += ["", tr(lang, "<b>Turned red 🔴</b>")]
        lines += [tr(lang, "{number}. {title}: {reasons}", number=c["number"], title=h(c["title"]),
                     reasons=reasons_text(lang, c.get("reasons", ()))) for c in p["turned_red"]]
    if p.get("overdue"):
        lines += ["", tr(lang, "<b>Overdue milestones</b>")]
        lines += [tr(lang, "{number}. {title}: {milestone} (due {due})", number=c["number"], title=h(c["title"]),
                     milestone=h(c["milestone"]), due=c["due"]) for c in p["overdue"]]
    if p.get("more"):
        lines += ["", tr(lang, "… and {count} more: send /board for the whole board.", count=p["more"])]
    return OutMessage(text="\n".join(lines))


def _n_blockers(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    lines = [tr(lang, "📌 <b>Monthly projects review</b> · {community} · {month}",
                community=h(p.get("community", "")), month=p.get("month", "")),
             tn(lang, "{n} project: 🟢 {green} · 🟡 {yellow} · 🔴 {red}", "{n} projects: 🟢 {green} · 🟡 {yellow} · 🔴 {red}",
                int(p.get("total") or 0), green=p.get("green", 0), yellow=p.get("yellow", 0), red=p.get("red", 0)), ""]
    if p.get("blockers"):
        lines.append(tr(lang, "<b>Blockers to discuss</b>"))
        for b in p["blockers"]:
            owner = tr(lang, "Owner: {name}", name=h(b["owner"])) if b.get("owner") else tr(lang, "Owner: not assigned")
            lines.append(f"🔴 {b['number']}. {h(b['title'])} — "
                         f"{reasons_text(lang, b.get('reasons', ()), b.get('override_reason'))} · {owner}")
    else:
        lines.append(tr(lang, "No project is behind schedule. 👍"))
    return OutMessage(text="\n".join(lines))


NOTICES = {board.BoardPosted.kind: _n_board, board.BoardPicture.kind: _n_board_pic, board.WeeklyDigest.kind: _n_weekly,
           board.MonthlyBlockers.kind: _n_blockers}

EXPLAIN = explain_board
