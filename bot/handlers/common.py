"""What every handler shares: error words, fallbacks for the unexpected, paging buttons."""

from __future__ import annotations

from bot.core.dispatch import Ctx
from bot.core.types import Button, CallbackEvent, Keyboard
from bot.render import h
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound, NotRegistered

MAX_ARGS = 200  # characters of command arguments we read at all


def explain(ctx: Ctx, err: FlowError) -> str:
    """A translated sentence for a flow error, saying what to do next."""
    if isinstance(err, NotRegistered) and ctx.actor.outsider and ctx.actor.community is not None:
        return not_a_member(ctx, ctx.actor.community.name)
    if isinstance(err, NotRegistered):
        return ctx.t("Please register first: send /start to me in a private chat.")
    if isinstance(err, Forbidden):
        return ctx.t("Sorry, you do not have permission to do that. Send /help to see what you can do.")
    if isinstance(err, NotFound):
        return {
            "member": ctx.t("There is no member no. {key} in your community. Send /members to see the numbers.",
                            key=err.key),
            "invite": ctx.t("This invite link is not valid. Ask for a new one."),
            "invite_withdrawn": ctx.t("This invite link was withdrawn: the person who sent it can no longer give "
                                      "that role. Please ask the community office for a new one."),
            "open_invite": ctx.t("This invite is no longer open (used, withdrawn or expired). /invites shows the "
                                 "open ones."),
            "building": ctx.t("That building is not in your community."),
            "community": ctx.t("That community does not exist (any more)."),
            "role": ctx.t("This member does not hold that role."),
            "link": ctx.t("This group is not linked yet."),
        }.get(err.what, ctx.t("Not found."))
    if isinstance(err, AlreadyDone):
        return {
            "invite": ctx.t("This invite link has already been used. Ask for a new one."),
            "role": ctx.t("This member already holds that role."),
        }.get(err.what, ctx.t("That was done already."))
    if isinstance(err, Expired):
        return ctx.t("This invite link has expired. Ask the person who sent it for a new one.")
    if isinstance(err, Invalid):
        return _invalid(ctx, err)
    if err.args == ("conflict",):
        return ctx.t("Someone else changed the same thing at this very moment. Please try again.")
    return ctx.t("Something went wrong on our side. Please try again in a moment.")


def not_a_member(ctx: Ctx, community: str) -> str:
    """In a linked group of a community the person is not a member of (they may be one elsewhere)."""
    return ctx.t("This group belongs to {community}, and you are not a member there, so I cannot act for you in "
                 "this group. If you live there, register first: send /start to me in a private chat.",
                 community=h(community))


def _invalid(ctx: Ctx, err: Invalid) -> str:
    key = (err.field, err.reason)
    limit = err.details.get("limit")
    texts = {
        ("building", "too_long"): ctx.t("A building name can have at most {limit} characters.", limit=limit),
        ("building", "empty"): ctx.t("Please give the building number, e.g. /link building 3"),
        ("building", "required"): ctx.t("Which building? For example: /link building 3"),
        ("building", "not_allowed"): ctx.t("Only building groups take a building number."),
        ("organisation", "required"): ctx.t(
            "Committee members and request handlers need an organisation: rc (residents' committee), oc (owners' "
            "committee), property, unit (resident unit) or police."),
        ("organisation", "not_allowed"): ctx.t("Only committee members have an organisation."),
        ("chat", "not_group"): ctx.t("This works in groups only."),
        ("role", "self_admin"): ctx.t("You cannot remove your own admin role; ask another admin."),
        ("role", "property_staff"): ctx.t("A property company's member is tied to a property project: use "
                                          "/property → 👤 Company member."),
        ("language", "unknown"): ctx.t("Unknown language. Choose 中文 or English."),
    }
    return texts.get(key, ctx.t("That input is not valid ({field}). Please check it and try again.",
                                field=err.field))


def report(ctx: Ctx, err: FlowError, text: str) -> None:
    """Say what went wrong: a toast for a button press, a message otherwise."""
    if isinstance(ctx.event, CallbackEvent):
        ctx.toast(text, alert=True)
    elif ctx.event.chat is not None:
        buttons = None
        if isinstance(err, NotRegistered) and ctx.event.chat.is_group and not ctx.actor.outsider:
            buttons = [[ctx.url_button(ctx.t("Register in private chat"), ctx.deep_link("go"))]]
        ctx.reply(text, buttons)


async def unknown_command(ctx: Ctx) -> None:
    if ctx.event.chat is not None and ctx.event.chat.is_group:
        return  # in groups other bots' commands pass by; stay quiet
    ctx.reply(ctx.t("I do not know the command /{command}. Send /help to see what you can do.",
                    command=(ctx.message.command or "")[:32]))


async def private_only(ctx: Ctx) -> None:
    ctx.reply(ctx.t("Please use /{command} in a private chat with me: it is about you, not the group.",
                    command=ctx.message.command),
              [[ctx.url_button(ctx.t("Open private chat"), ctx.deep_link("go"))]])


async def group_only(ctx: Ctx) -> None:
    ctx.reply(ctx.t("/{command} works in a group: add me to the group and send it there.",
                    command=ctx.message.command))


async def no_conversation(ctx: Ctx) -> None:
    if ctx.actor.member is None:
        ctx.reply(ctx.t("Hello! Send /start to register with your community."))
    else:
        ctx.reply(ctx.t("I did not understand that. Send /help to see what you can do."))


async def expired_button(ctx: Ctx) -> None:
    ctx.toast(ctx.t("This button has expired. Please send the command again."), alert=True)


async def bad_button(ctx: Ctx) -> None:
    ctx.toast(ctx.t("This button is not valid."), alert=True)


FALLBACKS = {
    "unknown_command": unknown_command,
    "private_only": private_only,
    "group_only": group_only,
    "no_conversation": no_conversation,
    "expired_button": expired_button,
    "bad_button": bad_button,
}


def pager(ctx: Ctx, page: int, pages: int, *fields: str | int) -> list[Button]:
    """◀ 2/5 ▶ buttons; the page number is appended to `fields`."""
    row: list[Button] = []
    if page > 1:
        row.append(ctx.button("◀", *fields, page - 1))
    if pages > 1:
        row.append(ctx.button(f"{page}/{pages}", *fields, page))
    if page < pages:
        row.append(ctx.button("▶", *fields, page + 1))
    return row


def grid(buttons: list[Button], per_row: int) -> Keyboard:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


def int_arg(text: str) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)
