"""The bot in groups: joining, /link and /unlink."""

from __future__ import annotations

from bot.core.dispatch import GROUP, Ctx, Router
from bot.core.i18n import N_
from bot.core.types import BotStatusEvent
from bot.handlers.common import MAX_ARGS, grid
from bot.render import h, purpose_name
from flows import membership
from flows.membership import Linked
from flows.roles import Perm, Purpose, parse_purpose

router = Router()


@router.on_bot_status
async def bot_status(ctx: Ctx) -> None:
    ev = ctx.event
    assert isinstance(ev, BotStatusEvent) and ev.chat is not None
    if not ev.chat.is_group:
        if ev.chat.is_private and ev.new_status == "kicked":
            await membership.mark_unreachable(ctx.uow, user_id=ctx.actor.user.id, tg_chat_id=ev.chat.id, now=ctx.now)
        return
    lang = ctx.actor.community.locale if ctx.actor.community else "zh_CN"
    await membership.bot_status_changed(ctx.uow, tg_chat_id=ev.chat.id, chat_type=ev.chat.type,
                                        title=ev.chat.title, old_status=ev.old_status, new_status=ev.new_status,
                                        lang=lang, now=ctx.now)


def _link_buttons(ctx: Ctx) -> list:
    return [
        [ctx.button(ctx.t("Community group"), "lk", "community"), ctx.button(ctx.t("Building group…"), "lk", "building")],
        [ctx.button(ctx.t("Multi-committee office"), "lk", "committee"),
         ctx.button(ctx.t("Volunteers' group"), "lk", "volunteers")],
    ]


@router.command("link", where=GROUP, description=N_("Link this group to your community"), perm=Perm.LINK_CHAT)
async def link(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    if not words:
        ctx.actor.require(Perm.LINK_CHAT)
        ctx.reply(ctx.t("What is this group for?"), _link_buttons(ctx))
        return
    purpose = parse_purpose(words[0])
    if purpose is None or len(words) > 2:
        ctx.reply(ctx.t("Usage: /link community · /link building 3 · /link committee · /link volunteers"))
        return
    await _link(ctx, purpose, words[1] if len(words) > 1 else None)


@router.callback("lk")
async def link_press(ctx: Ctx) -> None:
    purpose = parse_purpose(ctx.args[0]) if ctx.args else None
    if purpose is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if purpose is Purpose.BUILDING and len(ctx.args) == 1:
        me = ctx.actor.require(Perm.LINK_CHAT)
        page = await membership.list_buildings(ctx.uow, community_id=me.community_id, size=24)
        buttons = grid([ctx.button(ctx.t("Building {label}", label=b.label), "lk", "building", b.id or 0)
                        for b in page.items], 4)
        ctx.edit(ctx.t("Which building is this group for? (A building not listed: /link building NUMBER)"),
                 buttons or None)
        return
    label = None
    if len(ctx.args) > 1:
        me = ctx.actor.require(Perm.LINK_CHAT)
        building = await membership.get_building(ctx.uow, community_id=me.community_id, building_id=int(ctx.args[1]))
        label = building.label
    await _link(ctx, purpose, label)


async def _link(ctx: Ctx, purpose: Purpose, building_label: str | None) -> None:
    chat = ctx.event.chat
    assert chat is not None
    done = await membership.link_chat(ctx.uow, actor=ctx.actor, tg_chat_id=chat.id, chat_type=chat.type,
                                      title=chat.title, purpose=purpose, building_label=building_label, now=ctx.now)
    text, buttons = _linked_message(ctx, done)
    ctx.show(text, buttons)


def _linked_message(ctx: Ctx, done: Linked) -> tuple[str, list]:
    name = purpose_name(ctx.lang, done.purpose.value, done.building.label if done.building else None)
    text = ctx.t("✅ This group is now the {purpose} of {community}.", purpose=name, community=h(done.community.name))
    if done.building_created:
        text += "\n" + ctx.t("(Building {label} was added to the community.)", label=h(done.building.label
                                                                                        if done.building else ""))
    payload = f"b_{done.community.id}_{done.building.id}" if done.building else f"c_{done.community.slug}"
    text += "\n" + ctx.t("Residents: tap the button below to register with me in private chat.")
    return text, [[ctx.url_button(ctx.t("Register with Linli"), ctx.deep_link(payload))]]


@router.command("unlink", where=GROUP, description=N_("Unlink this group"), perm=Perm.LINK_CHAT)
async def unlink(ctx: Ctx) -> None:
    await membership.unlink_chat(ctx.uow, actor=ctx.actor, tg_chat_id=ctx.chat_id, now=ctx.now)
    ctx.reply(ctx.t("This group is no longer linked. An admin can /link it again."))
