"""Issue #10, item 5: a ballot receipt code tells whoever holds it (a coercer who demanded it) only whether
the paper was submitted and counted — on both runtimes, over real HTTP."""

from __future__ import annotations

from sqlmodel import select

from storage.models import BallotCandidate
from tests.bot.conftest import Harness, buttons
from tests.bot.test_ballot import ADMIN, GROUP, R1, R2, RES, TITLES, _create, _setup
from tests.bot.test_ballot import _vote as _vote_by_chat


async def test_item5_a_receipt_never_shows_the_choices(linli: Harness) -> None:
    """Another member holding a voter's code (a coercer who demanded it) learns "submitted" / "counted",
    never the choices; the voter sees their latest choices on their own sheet, in private, even while the
    submission still waits for the scheduler's batch."""
    await _setup(linli)
    await _create(linli, "3")
    code = await _vote_by_chat(linli, R1, ["楼道灯改造", "停车位划线"])
    for label in ("✅ 1. 楼道灯改造", "✅ 9. 停车位划线"):  # a change of mind, resubmitted
        sheet = (await linli.say(R1, "/vote"))[-1]
        if label not in buttons(sheet):
            sheet = (await linli.press(R1, sheet, "▶"))[1][-1]
        await linli.press(R1, sheet, label)
    assert await _vote_by_chat(linli, R1, ["老年餐桌"]) == code
    for who in (RES, R2):  # a resident, another representative
        text = (await linli.say(who, f"/ballot receipt {code}"))[-1]["text"]
        assert "已提交" in text and "不显示所选项目" in text, text
        assert not [t for t in TITLES if t in text], text
    text = (await linli.say(RES, f"/ballot receipt {code}", chat_id=GROUP))[-1]["text"]
    assert "私聊" in text and not [t for t in TITLES if t in text], text
    mine = (await linli.say(R1, "/vote"))[-1]  # the voter's own sheet, in private: the latest choices
    assert "✅ 3. 老年餐桌" in buttons(mine) and "⬜ 1. 楼道灯改造" in buttons(mine) and "未提交" not in mine["text"]
    card = (await linli.say(ADMIN, "/ballot"))[-1]
    _, out = await linli.press(ADMIN, card, "⏹ 关闭并计票")
    _, out = await linli.press(ADMIN, out[-1], "✅ 确定关闭并计票")
    text = (await linli.say(RES, f"/ballot receipt {code}"))[-1]["text"]
    assert "已计入" in text and not [t for t in TITLES if t in text], text
    async with linli.db.uow() as uow:  # the resubmission is what counted (one vote: a tie for the other seats)
        votes = dict((await uow.session.exec(select(BallotCandidate.title, BallotCandidate.votes))).all())
    assert votes["老年餐桌"] == 1 and sum(v or 0 for v in votes.values()) == 1
