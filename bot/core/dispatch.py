"""The framework-free dispatcher: neutral event → handler → replies → gateway.

One transaction per update: the processed-update mark, the actor's user row and everything
the handler changes are committed together, and only then are the replies sent. A handler
that raises a FlowError leaves nothing behind but the processed-update mark."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from bot.core import callbacks, grouped
from bot.core.i18n import tr as translate
from bot.core.kept import SentMarks, from_kept, to_kept
from bot.core.routing import ANYWHERE, GROUP, PRIVATE, CommandSpec, Handler, Router
from bot.core.types import (
    BotStatusEvent,
    Button,
    CallbackEvent,
    Edit,
    EditButtons,
    Event,
    FetchDocument,
    Keyboard,
    MessageEvent,
    OutMessage,
    PollAnswerEvent,
    Progress,
    ReactionEvent,
    Reply,
    Send,
    SendDocument,
    SendPoll,
    StopPoll,
    Toast,
)
from flows import conversation, membership, outbox, updates
from flows.clock import Clock
from flows.conversation import State
from flows.errors import FlowError
from flows.membership import Actor
from flows.throttle import Throttle, Verdict
from storage import outage
from storage.crypto import Sealer, derive_key
from storage.db import Database, UnitOfWork
from storage.models import User

if TYPE_CHECKING:
    from bot.shared_throttle import SharedThrottle

log = logging.getLogger("linli.dispatch")

ErrorMapper = Callable[["Ctx", FlowError], None]


@dataclass
class Ctx:
    """What a handler gets: the event, the actor, an open unit of work, and reply helpers."""

    core: Core
    uow: UnitOfWork
    event: Event
    actor: Actor
    now: datetime
    args: list[str] = field(default_factory=list)  # callback fields after the prefix
    state: State | None = None
    replies: list[Reply] = field(default_factory=list)
    origin: str = ""  # the module of the handler at work (whose words explain its errors)

    @property
    def lang(self) -> str:
        return self.actor.lang

    def t(self, msgid: str, /, **kwargs: object) -> str:
        return translate(self.lang, msgid, **kwargs)

    @property
    def chat_id(self) -> int:
        assert self.event.chat is not None
        return self.event.chat.id

    @property
    def user_id(self) -> int:
        assert self.event.user is not None
        return self.event.user.id

    @property
    def is_press(self) -> bool:
        return isinstance(self.event, CallbackEvent)

    async def load_state(self) -> State | None:
        self.state = await conversation.get(self.uow, chat_id=self.chat_id, user_id=self.user_id, now=self.now)
        return self.state

    @property
    def message(self) -> MessageEvent:
        assert isinstance(self.event, MessageEvent)
        return self.event

    @property
    def callback(self) -> CallbackEvent:
        assert isinstance(self.event, CallbackEvent)
        return self.event

    def button(self, text: str, *fields: str | int, ttl: timedelta | None = None) -> Button:
        data = callbacks.pack(self.core.secret, list(fields), now=self.now, ttl=ttl or self.core.button_ttl)
        return Button(text=text, data=data)

    def url_button(self, text: str, url: str) -> Button:
        return Button(text=text, url=url)

    def deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.core.bot_username}?start={payload}"

    def reply(self, text: str, buttons: Keyboard | None = None, *, chat_id: int | None = None,
              photo: str | None = None, voice: str | None = None) -> None:
        self.replies.append(Send(chat_id or self.chat_id, OutMessage(text=text, buttons=buttons, photo=photo,
                                                                     voice=voice)))

    def edit(self, text: str, buttons: Keyboard | None = None) -> None:
        """Replace the message whose button was pressed."""
        ev = self.callback
        assert ev.message_id is not None and ev.chat is not None
        self.replies.append(Edit(ev.chat.id, ev.message_id, OutMessage(text=text, buttons=buttons)))

    def edit_buttons(self, buttons: Keyboard) -> None:
        """Replace only the buttons of the message whose button was pressed (a photo keeps its caption)."""
        ev = self.callback
        assert ev.message_id is not None and ev.chat is not None
        self.replies.append(EditButtons(ev.chat.id, ev.message_id, buttons))

    def show(self, text: str, buttons: Keyboard | None = None) -> None:
        """Edit the pressed message when this came from a button, else send a new one."""
        if self.is_press:
            self.edit(text, buttons)
        else:
            self.reply(text, buttons)

    def toast(self, text: str = "", alert: bool = False) -> None:
        self.replies.append(Toast(self.callback.callback_id, text, alert))

    def send_poll(self, question: str, options: list[str] | tuple[str, ...], *,
                  record: Callable[..., Awaitable[Any]], failed: str) -> None:
        """Put a non-anonymous native poll to this chat after the commit; `record(uow, tg_poll_id=…,
        message_id=…, now=…)` stores Telegram's ids, `failed` is said if the poll cannot be sent."""
        self.replies.append(SendPoll(self.chat_id, question, tuple(options), record, OutMessage(text=failed),
                                     reply_to=self.message.message_id))

    def send_document(self, filename: str, data: bytes, *, caption: str = "", failed: str = "") -> None:
        """Send a file to this chat as a direct reply after the commit (never through the outbox)."""
        self.replies.append(SendDocument(self.chat_id, filename, data, caption,
                                         OutMessage(text=failed) if failed else None))

    def fetch_document(self, file_id: str, then: Callable[[bytes, Progress], Awaitable[list[Reply]]], *, failed: str,
                       progress: Callable[[int, int], OutMessage] | None = None) -> None:
        """After the commit: download a document sent to this chat and hand its bytes to `then` (see FetchDocument:
        `failed` is said if that cannot be done, `progress` words how far it is when that takes a while)."""
        self.replies.append(FetchDocument(self.chat_id, file_id, then, OutMessage(text=failed), progress))

    def stop_poll(self, message_id: int) -> None:
        """Close a poll of this chat (after the commit)."""
        self.replies.append(StopPoll(self.chat_id, message_id))

    async def set_state(self, flow: str, step: str, data: dict[str, Any] | None = None) -> None:
        self.state = State(flow=flow, step=step, data=data or {})
        await conversation.put(self.uow, chat_id=self.chat_id, user_id=self.user_id, state=self.state, now=self.now)

    async def clear_state(self) -> None:
        self.state = None
        await conversation.clear(self.uow, chat_id=self.chat_id, user_id=self.user_id)


def not_the_senders_own(event: Event) -> bool:
    """A private chat belongs to one person: an update there from anyone else cannot come from Telegram."""
    return event.chat is not None and event.chat.is_private and event.user is not None \
        and event.chat.id != event.user.id


class Core:
    """The bot's brain, shared by every runtime. Create one per process."""

    #: Rate limits on what people send (LinliApp sets one unless LINLI_THROTTLE is off; none in unit tests)
    throttle: Throttle | None = None
    shared_throttle: SharedThrottle | None = None  # LINLI_REDIS_URL: the limits kept in Redis for every process
    #: Needs one member may submit per collection (LINLI_NEEDS_PER_MEMBER; LinliApp sets it)
    needs_per_member: int = 10
    #: The public board's address (LINLI_PUBLIC_URL; LinliApp sets it): /board links to the community's page
    public_url: str = ""
    #: While the database is unreachable an update is tried again after this many seconds, doubling up to the
    #: second figure; and how to wait (tests pass their own)
    outage_backoff: tuple[float, float] = (0.2, 5.0)
    outage_sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)  # type: ignore[assignment]

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        secret: bytes,
        router: Router,
        errors: ErrorMapper,
        fallbacks: dict[str, Handler],
        bot_username: str = "linli_bot",
        button_ttl: timedelta = timedelta(hours=72),
        previous_secrets: Sequence[bytes] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.secret = secret  # buttons are signed with its "buttons" key (bot/core/callbacks.py)
        self.previous_secrets = tuple(previous_secrets)  # before `linli keys rotate`: they still open and verify
        self.router = router
        self.errors = errors
        self.fallbacks = fallbacks
        self.bot_username = bot_username
        self.button_ttl = button_ttl
        self.on_outbox: Callable[[], None] | None = None  # the sender's wake-up call
        self.sealer = Sealer(secret, self.previous_secrets)  # personal data of the care ledger, encrypted at rest
        self.ballot_key = derive_key(secret, "ballot")  # ballot voter tokens and receipts
        self._unsent: set[int] = set()  # updates whose kept replies are being sent (see `sent`)
        self.marks = SentMarks()  # … and went out, until that is written
        self._flushing: asyncio.Task[None] | None = None
        # SQLite: updates that change nothing skip the write lock, their marks written in groups (bot/core/grouped.py)
        self.groups = grouped.MarkGroups(db, self.marks, self._flush_soon) if db.write_lock is not None else None

    # ------------------------------------------------------------------ entry point

    async def handle(self, event: Event) -> list[Reply]:
        """Process one update; returns the replies to send (after the commit).

        While the database cannot be reached (storage/outage.py says which errors mean that) the update
        is tried again, after 0.2 s, 0.4 s … at most `outage_backoff[1]` apart, until it goes through or
        the process stops (the task is cancelled): the runtime confirms it to Telegram only after this
        returns, so an update that never got through is delivered again after a restart."""
        verdict = None if not_the_senders_own(event) else await self._throttled(event, self.clock.now())
        if verdict is Verdict.DROP:
            log.debug("update %s (%s) dropped: over the rate limit", event.update_id, type(event).__name__)
            return []
        delay, cap = self.outage_backoff
        while True:
            try:
                if verdict is None:
                    return await self._drop_forged(event, self.clock.now())
                return await self._handle_once(event, verdict)
            except Exception as exc:
                if not outage.unreachable(exc):
                    raise
                log.warning("update %s: database unreachable (%s), trying again in %.1f s", event.update_id,
                            type(exc).__name__, delay)  # the type only: the message may quote personal data
            await self.outage_sleep(delay)
            delay = min(delay * 2, cap)

    async def _handle_once(self, event: Event, verdict: Verdict) -> list[Reply]:
        replies = None if self.groups is None else await grouped.handle_reading(self, event, verdict)
        if replies is not None:
            return replies
        now = self.clock.now()
        async with self.db.uow(write=True, opens_with_write=True) as uow:  # the update's mark first
            if not await updates.take(uow, update_id=event.update_id, now=now):
                return await self._unsent_replies(uow, event.update_id)
            actor = await self._actor(uow, event, now)
            ctx = Ctx(core=self, uow=uow, event=event, actor=actor, now=now)
            try:
                if verdict is Verdict.REFUSE:
                    self._slow_down(ctx)
                else:
                    await self._route(ctx)
                queued = outbox.queued(uow)
                kept = to_kept(ctx.replies)
                # until sent: a crash after the commit must not cost the answer; the same statement drops the
                # copies of earlier updates whose replies went out since (see SentMarks)
                await self._keep(uow, event.update_id, kept)
                if kept:
                    self._unsent.add(event.update_id)
                if queued and self.on_outbox is not None:
                    self.on_outbox()
                return ctx.replies
            except FlowError as err:
                failed = err
            except IntegrityError:
                if await self._seen_meanwhile(event.update_id):
                    log.info("update %s taken by another worker", event.update_id)
                    return []
                log.exception("conflict while handling update %s", event.update_id)
                failed = FlowError("conflict")
            except Exception as exc:
                if outage.unreachable(exc):
                    raise  # nothing was kept: the whole update is tried again (handle)
                log.exception("handler failed on update %s (%s)", event.update_id, type(event).__name__)
                failed = FlowError("internal")
        return await self._after_failure(event, now, failed, ctx.origin)

    async def _keep(self, uow: UnitOfWork, update_id: int, kept: list[dict[str, Any]]) -> None:
        """Keep the update's replies and write the marks of those sent since, in one statement, and commit."""
        sent = self.marks.take()
        try:
            if kept or sent:
                sealed = self.sealer.seal(json.dumps(kept, ensure_ascii=False)) if kept else None
                await updates.keep_replies(uow, update_id=update_id, sealed=sealed, sent=sent)
            await uow.commit()
        except BaseException:
            self.marks.back(sent)
            self._flush_soon()
            raise
        self.marks.done(sent)

    async def _unsent_replies(self, uow: UnitOfWork, update_id: int) -> list[Reply]:
        """An update handled before: nothing, unless its replies were kept and never marked as sent (the process
        died between its commit and their sending, or the connection broke just after its COMMIT went through)."""
        sealed = None if update_id in self.marks else await updates.kept_replies(uow, update_id=update_id)
        if sealed is None:
            log.info("update %s seen before, skipped", update_id)
            return []
        log.info("update %s handled before, its replies not sent: sending them now", update_id)
        self._unsent.add(update_id)
        return from_kept(json.loads(self.sealer.open(sealed)))

    async def sent(self, update_id: int) -> None:
        """The update's replies went out (or were passed to the outbox): its kept copy is dropped. Returns once that
        is written — by the next update's transaction, or by one of its own if none took it (see SentMarks)."""
        if update_id not in self._unsent:
            return
        self._unsent.discard(update_id)
        written = self.marks.add(update_id)
        self._flush_soon()
        await asyncio.shield(written)

    def _flush_soon(self) -> None:
        if self._flushing is None and self.marks:
            self._flushing = asyncio.create_task(self._flush_marks(), name="sent-marks")

    async def _flush_marks(self) -> None:
        """Write the marks no update's transaction took; queued for SQLite's write lock like any writer, so the
        updates ahead in the queue carry the marks first, and it usually finds few or none left."""
        try:
            while self.marks:
                async with self.db.uow(write=True, opens_with_write=True) as uow:  # an UPDATE first
                    batch = self.marks.take()
                    if not batch:
                        break
                    try:
                        await updates.mark_sent(uow, update_ids=batch)
                        await uow.commit()
                    except Exception as exc:
                        self.marks.done(batch)  # given up: waiting for the database would hold the update back
                        if outage.unreachable(exc):
                            log.warning("%d update(s): replies sent but not marked so (%s); sent again only if "
                                        "delivered again", len(batch), type(exc).__name__)
                        else:
                            log.exception("%d update(s): replies sent but not marked so", len(batch))
                    except BaseException:
                        self.marks.back(batch)
                        raise
                    else:
                        self.marks.done(batch)
        finally:
            self._flushing = None

    async def _drop_forged(self, event: Event, now: datetime) -> list[Reply]:
        """A private chat's update from someone else than its owner: Telegram never sends one, so it was forged
        (a webhook POST). Nothing runs for it; it is only marked as seen and logged without its content."""
        log.warning("update %s (%s) dropped: a private chat that is not the sender's own", event.update_id,
                    type(event).__name__)
        async with self.db.uow(write=True) as uow:
            if await updates.take(uow, update_id=event.update_id, now=now):
                try:
                    await uow.commit()
                except IntegrityError:
                    log.info("update %s taken by another worker", event.update_id)
        return []

    async def _throttled(self, event: Event, now: datetime) -> Verdict:
        """The rate limits' verdict on an update that a handler would answer (anything else passes)."""
        if (self.throttle is None and self.shared_throttle is None) or event.user is None or event.user.is_bot:
            return Verdict.ANSWER
        chat_id = event.chat.id if event.chat is not None else event.user.id
        command = None
        if isinstance(event, MessageEvent):
            if event.chat is None or event.addressed_to_other_bot:
                return Verdict.ANSWER
            if not event.chat.is_private:
                if event.command is None:
                    return Verdict.ANSWER  # plain talk in a group is not answered anyway
                command = f"{event.command} {' '.join(event.args.split())}".strip()
        elif not isinstance(event, CallbackEvent):
            return Verdict.ANSWER
        if self.shared_throttle is not None:  # every process's updates counted together (LINLI_REDIS_URL)
            return await self.shared_throttle.check(now=now, user_id=event.user.id, chat_id=chat_id,
                                                    group_command=command)
        assert self.throttle is not None
        return self.throttle.check(now=now, user_id=event.user.id, chat_id=chat_id, group_command=command)

    @staticmethod
    def _slow_down(ctx: Ctx) -> None:
        log.info("update %s (%s): over the rate limit, asked to slow down", ctx.event.update_id,
                 type(ctx.event).__name__)
        text = ctx.t("Slow down, please: that was a lot at once. I will answer again in a minute.")
        if ctx.is_press:
            ctx.toast(text, alert=True)
        else:
            ctx.reply(text)

    async def _seen_meanwhile(self, update_id: int) -> bool:
        async with self.db.uow() as uow:
            return await updates.seen(uow, update_id=update_id)

    async def _after_failure(self, event: Event, now: datetime, err: FlowError, origin: str) -> list[Reply]:
        """Record the update as processed (so it is not retried) and explain the failure. The actor is loaded
        again: the failed transaction's rollback expired every row it had read."""
        async with self.db.uow(write=True, opens_with_write=True) as uow:  # the update's mark first
            if not await updates.take(uow, update_id=event.update_id, now=now):
                return []
            actor = await self._actor(uow, event, now)
            try:
                await uow.commit()
            except IntegrityError:
                return []
            ctx = Ctx(core=self, uow=uow, event=event, actor=actor, now=now, origin=origin)
            self.errors(ctx, err)
            return ctx.replies

    async def _actor(self, uow: UnitOfWork, event: Event, now: datetime) -> Actor:
        u = event.user
        if u is None or u.is_bot:
            return Actor(user=User(tg_id=0, first_name="", created_at=now), member=None, community=None,
                         roles=frozenset())
        chat = event.chat
        if not (chat and chat.is_group):  # their active community: one query for the user and the actor
            return await membership.touch_actor(
                uow, tg_id=u.id, first_name=u.first_name, last_name=u.last_name, username=u.username,
                tg_language=u.language_code, now=now,
            )
        user = await membership.touch_user(
            uow, tg_id=u.id, first_name=u.first_name, last_name=u.last_name, username=u.username,
            tg_language=u.language_code, now=now,
        )
        # in a linked group the group's community holds, never the presser's active one (every handler and
        # flow then reads the right community and the roles held there)
        community = await membership.group_community(uow, tg_chat_id=chat.id)
        return await membership.load_actor(uow, user, community=community)

    # ------------------------------------------------------------------ routing

    async def _route(self, ctx: Ctx) -> None:
        ev = ctx.event
        if isinstance(ev, MessageEvent):
            await self._on_message(ctx, ev)
        elif isinstance(ev, CallbackEvent):
            await self._on_callback(ctx, ev)
        elif isinstance(ev, BotStatusEvent):
            for fn in self.router.bot_status:
                await fn(ctx)
        elif isinstance(ev, PollAnswerEvent):
            for fn in self.router.poll_answers:
                ctx.origin = fn.__module__
                await fn(ctx)
        elif isinstance(ev, ReactionEvent):
            for fn in self.router.reactions:
                ctx.origin = fn.__module__
                await fn(ctx)

    async def _on_message(self, ctx: Ctx, ev: MessageEvent) -> None:
        if ev.chat is None or ev.user is None or ev.user.is_bot or ev.addressed_to_other_bot:
            return
        if ev.command is not None:
            spec = self.router.commands.get(ev.command)
            if spec is None:
                await self.fallbacks["unknown_command"](ctx)
                return
            if spec.where == PRIVATE and not ev.chat.is_private:
                await self.fallbacks["private_only"](ctx)
                return
            if spec.where == GROUP and not ev.chat.is_group:
                await self.fallbacks["group_only"](ctx)
                return
            ctx.origin = spec.handler.__module__
            await spec.handler(ctx)
            return
        if not ev.chat.is_private:
            return  # groups stay calm: plain talk in a group is none of our business
        ctx.state = await conversation.get(ctx.uow, chat_id=ev.chat.id, user_id=ev.user.id, now=ctx.now)
        if ctx.state is not None and ctx.state.flow in self.router.flows:
            handler = self.router.flows[ctx.state.flow]
            ctx.origin = handler.__module__
            await handler(ctx)
        else:
            await self.fallbacks["no_conversation"](ctx)

    async def _on_callback(self, ctx: Ctx, ev: CallbackEvent) -> None:
        if ev.user is None:
            return
        try:
            fields = callbacks.unpack(self.secret, ev.data, now=ctx.now, previous=self.previous_secrets)
        except callbacks.ExpiredButton:
            await self.fallbacks["expired_button"](ctx)
            return
        except callbacks.BadButton:
            log.warning("forged or damaged callback data on update %s", ev.update_id)
            await self.fallbacks["bad_button"](ctx)
            return
        handler = self.router.callbacks.get(fields[0])
        if handler is None:
            await self.fallbacks["bad_button"](ctx)
            return
        ctx.args = fields[1:]
        ctx.origin = handler.__module__
        if ev.chat is not None and fields[0] not in self.router.stateless:
            ctx.state = await conversation.get(ctx.uow, chat_id=ev.chat.id, user_id=ev.user.id, now=ctx.now)
        await handler(ctx)
        if not any(isinstance(r, Toast) for r in ctx.replies):
            ctx.toast()  # always answer a press, or the client shows a spinner

    # ------------------------------------------------------------------ help and menus

    def visible_commands(self, actor: Actor | None, where: str) -> list[CommandSpec]:
        """Commands this person may use in this kind of chat (for /help and menus)."""
        out = []
        for spec in self.router.commands.values():
            if spec.where not in (where, ANYWHERE):
                continue
            if actor is not None:
                if spec.member_only and actor.member is None:
                    continue
                if spec.perm is not None and not actor.can(spec.perm):
                    continue
            elif spec.perm is not None:
                continue
            out.append(spec)
        return out

