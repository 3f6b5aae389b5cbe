"""Acceptance end to end, over real HTTP on both runtimes: a project is completed with before/after
photos that people sent to the bot; the sender downloads them, composes the comparison picture and
posts it to the building group; residents like it by button (twice: the second says so) and by a
👍 reaction, rate it 4 with a comment and change it to 5; the summary shows 2 likes and 5.0."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import telegram
from aiogram import Bot as AgBot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image
from sqlmodel import select

from bot.core.gateway import ApiError
from bot.runtimes.aiogram_rt import AiogramGateway
from bot.runtimes.ptb_rt import PtbGateway
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import acceptance
from storage.models import Member, Project, ProjectLike, ProjectPhoto, ProjectPost
from tests.bot.conftest import TOKEN, Harness, buttons

ADMIN, R1, R2 = 801, 802, 803
GROUP, GROUP4 = -1002000000081, -1002000000084
RED, BLUE = (220, 30, 30), (30, 30, 220)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (300, 400)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


async def _setup(linli: Harness) -> int:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(R1, "赵阿姨")
    await linli.register(R2, "钱叔叔")
    await linli.group(GROUP, "3号楼群", [ADMIN, R1, R2], admin=ADMIN)
    out = await linli.say(ADMIN, "/link building 3", chat_id=GROUP)
    assert "3" in out[-1]["text"]
    await linli.group(GROUP4, "4号楼群", [ADMIN], admin=ADMIN)
    await linli.say(ADMIN, "/link building 4", chat_id=GROUP4)
    # the owner's photos: sent to the bot like any photo (the projects feature records them)
    photos = {}
    for kind, colour in (("before", RED), ("after", BLUE)):
        sent = await linli.tg.send_photo(ADMIN, png(colour))
        biggest = sent["photo"][-1]  # the message as Telegram gives it: the photo's sizes
        photos[kind] = (biggest["file_id"], biggest["file_unique_id"])
    await linli.settle()
    now = linli.clock.now()
    async with linli.db.uow() as uow:
        admin = (await uow.session.exec(select(Member).order_by(Member.id))).first()
        assert admin is not None
        project = Project(community_id=admin.community_id, year=2027, number=1, title="3号楼加装扶手",
                          category="facility", created_at=now - timedelta(days=90), completed_at=now)
        uow.session.add(project)
        await uow.session.flush()
        for i, (kind, (file_id, unique)) in enumerate(photos.items()):
            uow.session.add(ProjectPhoto(project_id=project.id or 0, kind=kind, file_id=file_id,
                                         file_unique_id=unique, member_id=admin.id or 0,
                                         created_at=now - timedelta(days=60 - 59 * i)))
        assert await acceptance.completed(uow, project=project, now=now) == 2
        await uow.commit()
    assert linli.app.sender is not None
    linli.app.sender.wake()
    await linli.settle()
    return project.id or 0


async def test_comparison_post_likes_and_ratings(linli: Harness) -> None:
    project_id = await _setup(linli)

    post = await linli.last(GROUP)
    other = await linli.last(GROUP4)
    assert other["photo"] is not None and other["caption"] == post["caption"]
    # the photos were downloaded and the picture drawn once, for both groups
    assert linli.standin.stats.calls_by_method["getFile"] == 2
    assert post["photo"] is not None, post
    caption = post["caption"] or ""
    assert "3号楼加装扶手" in caption and "已完工" in caption
    assert buttons(post) == ["👍", "⭐ 评价"]
    rate_url = post["reply_markup"]["inline_keyboard"][0][1]["url"]
    assert rate_url.endswith(f"?start=rate_{project_id}")
    # the picture holds both photos: the before one (red) left, the after one (blue) right
    picture = Image.open(io.BytesIO(await linli.tg.file_bytes(post["photo"]["file_id"]))).convert("RGB")
    w, h = picture.size
    assert max(w, h) <= 2560
    assert near(picture.getpixel((w // 4, h // 2)), RED) and near(picture.getpixel((3 * w // 4, h // 2)), BLUE)
    async with linli.db.uow() as uow:
        recorded = (await uow.session.exec(select(ProjectPost).where(ProjectPost.tg_chat_id == GROUP))).one()
        found = await acceptance.post_of_message(uow, tg_chat_id=GROUP, message_id=post["message_id"])
    assert recorded.kind == "comparison" and found is not None and found.project_id == project_id

    # 👍 by button, once per person
    toast, _ = await linli.press(R1, post, "👍")
    assert toast and "1" in toast and "点赞" in toast
    post = await linli.last(GROUP)  # the count is on the button now; the picture and caption stay
    assert buttons(post) == ["👍 1", "⭐ 评价"] and post["photo"] is not None and post["caption"] == caption
    assert post["reply_markup"]["inline_keyboard"][0][1]["url"] == rate_url
    toast, _ = await linli.press(R1, post, "👍 1")
    assert toast and "已经" in toast
    # 👍 as a reaction by another resident; another emoji counts nothing
    await linli.tg.react(ADMIN, GROUP, post["message_id"], "🎉")
    await linli.tg.react(R2, GROUP, post["message_id"], "👍")
    await linli.settle()
    async with linli.db.uow() as uow:
        likes = (await uow.session.exec(select(ProjectLike).order_by(ProjectLike.id))).all()
    assert [like.source for like in likes] == ["button", "reaction"]

    # ⭐ in private: 4 with a comment, then changed to 5
    out = await linli.say(R1, f"/start rate_{project_id}")
    screen = out[-1]
    assert "验收单" in screen["text"] and buttons(screen) == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐"]
    out = await linli.say(R1, "0")
    assert "1 到 5" in out[-1]["text"]
    _, out = await linli.press(R1, screen, "4⭐")
    assert "⭐⭐⭐⭐" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])
    out = await linli.say(R1, "扶" * 301)
    assert "300" in out[-1]["text"]
    out = await linli.say(R1, "扶手很结实，谢谢！")
    assert "扶手很结实" in out[-1]["text"] and "4.0" in out[-1]["text"]

    out = await linli.say(R1, f"/start rate_{project_id}")
    assert "⭐⭐⭐⭐" in out[-1]["text"] and "扶手很结实" in out[-1]["text"]  # the current rating
    _, out = await linli.press(R1, out[-1], "5⭐")
    _, out = await linli.press(R1, out[-1], "跳过 ▶")
    assert "⭐⭐⭐⭐⭐" in out[-1]["text"] and "👍 2" in out[-1]["text"] and "5.0" in out[-1]["text"]

    async with linli.db.uow() as uow:
        summary = await acceptance.summary(uow, [project_id])
    assert summary[project_id] == acceptance.Summary(likes=2, ratings=1, average=5.0)

    # taking the reaction back removes that like
    await linli.tg.react(R2, GROUP, post["message_id"], [])
    await linli.settle()
    async with linli.db.uow() as uow:
        assert (await acceptance.summary(uow, [project_id]))[project_id].likes == 1




async def test_both_gateways_download_what_people_sent(standin: StandIn, tg: StandInClient) -> None:
    """Gateway.download (getFile, then the file's URL) on both runtimes against the stand-in."""
    await tg.create_user("赵阿姨", id=R1, language_code="zh-hans")
    data = png(RED, (64, 48))
    sent = await tg.send_photo(R1, data)
    file_id = sent["photo"][-1]["file_id"]
    ag_bot = AgBot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(standin.url)))
    ptb_bot = telegram.Bot(TOKEN, base_url=standin.url + "/bot", base_file_url=standin.url + "/file/bot")
    try:
        async with ptb_bot:
            for gateway in (AiogramGateway(ag_bot), PtbGateway(ptb_bot)):
                assert await gateway.download(file_id) == data
                with pytest.raises(ApiError) as err:
                    await gateway.download("no-such-file")
                assert err.value.kind == ApiError.BAD_REQUEST
    finally:
        await ag_bot.session.close()


async def test_a_comment_told_by_voice_reaches_the_owner(linli: Harness) -> None:
    """The comment after the stars may be a voice message; the project's owner gets the voice itself
    (the admins when there is no owner), with the stars and without the resident's name."""
    project_id = await _setup(linli)
    async with linli.db.uow(write=True) as uow:
        project = await uow.session.get(Project, project_id)
        owner = (await uow.session.exec(select(Member).order_by(Member.id))).all()[2]  # 钱叔叔
        project.owner_member_id = owner.id
        uow.session.add(project)
        await uow.commit()
    out = await linli.say(R1, f"/start rate_{project_id}")
    _, out = await linli.press(R1, out[-1], "4⭐")
    assert "语音" in out[-1]["text"]
    before = await linli.tg.cursor()
    sent = await linli.tg.send_voice(R1, b"OggS-voice-bytes" * 30, duration=7)
    await linli.settle()
    out = await linli.tg.bot_messages(R1, before)
    assert "🎤 您的语音" in out[-1]["text"] and "⭐⭐⭐⭐" in out[-1]["text"]
    told = await linli.last(R2)
    assert told["voice"] is not None and told["voice"]["file_id"] == sent["voice"]["file_id"]
    assert "3号楼加装扶手" in (told["caption"] or "") and "⭐⭐⭐⭐" in (told["caption"] or "")
    assert "赵阿姨" not in (told["caption"] or "")
