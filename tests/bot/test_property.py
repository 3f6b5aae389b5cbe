"""/property and /property_reply end to end over real HTTP, on both runtimes (#15, F-10): an admin sets up a
property project (buildings, a company member), a committee member scores it one item per screen with evidence
and submits it once, the company's member is told and replies to a deduction; a resident is refused."""

from __future__ import annotations

from sqlmodel import select

from flows import membership
from flows.roles import Org, Role
from storage.models import Community, Member
from storage.models_property import PropertyEvaluation, PropertyItemScore, PropertyStaff
from tests.bot.conftest import Harness, buttons
from tests.bot.test_acceptance import png

ADMIN, COMMITTEE, STAFF, RESIDENT = 401, 402, 403, 404

#: a community's own indicator file (3 items, 10 points): 1.1 −0.5 per place (4), 1.2 graded (2), 2.1 graded (4)
SMALL = """
total: 10
categories:
  - key: a
    name: {zh: 基础管理, en: Basic management}
    weight: 6
    items:
      - {zh: 一箱三栏公示, weight: 4, rule: "−0.5 per place"}
      - {zh: 制度健全, weight: 2}
  - key: b
    name: {zh: 环境卫生, en: Cleaning}
    weight: 4
    items:
      - {zh: 垃圾日产日清, weight: 4}
"""


async def _setup(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    for tg_id, name in ((COMMITTEE, "李委员"), (STAFF, "海河小陈"), (RESIDENT, "赵阿姨")):
        await linli.register(tg_id, name)
    async with linli.db.uow() as uow:
        member = (await uow.session.exec(select(Member).where(Member.id == await linli.member_no(COMMITTEE)))).one()
        await membership.assign_role(uow, member=member, role=Role.COMMITTEE, org=Org.RESIDENTS_COMMITTEE,
                                     now=linli.clock.now())
        community = (await uow.session.exec(select(Community))).one()
        community.settings = {**community.settings, "property_indicators": SMALL}
        uow.session.add(community)
        await uow.commit()


async def test_item2_admin_sets_up_a_project_buildings_and_company_member(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/property")
    assert "物业考核" in out[-1]["text"] and "还没有物业项目" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "➕ 新增项目")
    assert "物业公司；小区；户数" in out[-1]["text"]
    out = await linli.say(ADMIN, "海河物业; 锦绣苑; 五百")  # households not a number → the usage again
    assert "物业公司；小区；户数" in out[-1]["text"]
    out = await linli.say(ADMIN, "海河物业；锦绣苑")  # too few fields → the usage again, nothing written
    assert "物业公司；小区；户数" in out[-1]["text"]
    out = await linli.say(ADMIN, "海河物业; 锦绣苑; 500; 锦绣苑小区，锦秀园")
    assert "物业项目 1：锦绣苑（海河物业），500 户" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "🏢 关联楼栋")
    out = await linli.say(ADMIN, "1-3, 9")
    assert "9号楼不在您的社区" in out[-1]["text"]
    _, out = await linli.press(ADMIN, (await linli.say(ADMIN, "/property"))[-1], "🏢 关联楼栋")
    _, out = await linli.press(ADMIN, out[-1] if out else await linli.last(ADMIN), "1. 锦绣苑")
    out = await linli.say(ADMIN, "1-3")
    assert "服务的楼栋：1, 2, 3" in out[-1]["text"]
    _, out = await linli.press(ADMIN, (await linli.say(ADMIN, "/property"))[-1], "👤 物业人员")
    _, out = await linli.press(ADMIN, await linli.last(ADMIN), "1. 锦绣苑")
    out = await linli.say(ADMIN, str(await linli.member_no(STAFF)))
    assert "项目 1 的海河物业人员" in out[-1]["text"]
    told = await linli.last(STAFF)
    assert "物业项目人员" in told["text"]
    async with linli.db.uow() as uow:
        assert len((await uow.session.exec(select(PropertyStaff))).all()) == 1
    out = await linli.say(RESIDENT, "/property")
    assert "物业考核由社区管理员和多委成员评分" in out[-1]["text"] and not buttons(out[-1])


async def _project_with_staff(linli: Harness) -> None:
    out = await linli.say(ADMIN, "/property")
    await linli.press(ADMIN, out[-1], "➕ 新增项目")
    out = await linli.say(ADMIN, "海河物业; 锦绣苑; 500")
    _, out = await linli.press(ADMIN, (await linli.say(ADMIN, "/property"))[-1], "👤 物业人员")
    _, out = await linli.press(ADMIN, await linli.last(ADMIN), "1. 锦绣苑")
    await linli.say(ADMIN, str(await linli.member_no(STAFF)))


async def test_item3_item7_scoring_one_project_end_to_end_and_the_right_of_reply(linli: Harness) -> None:
    await _setup(linli)
    await _project_with_staff(linli)
    out = await linli.say(COMMITTEE, "/property")
    assert "1. 锦绣苑（海河物业），500 户 — 0/3" in out[-1]["text"]
    _, out = await linli.press(COMMITTEE, out[-1], "📝 为 1 号项目评分")
    screen = await linli.last(COMMITTEE)
    assert "0/3" in screen["text"] and "1.1 一箱三栏公示" in screen["text"] and "每处扣 0.5 分，最多扣 4 分" in screen["text"]
    assert buttons(screen)[:7] == ["0", "1", "2", "3", "4", "5", "更多…"] and "跳过 ▶" in buttons(screen)
    _, out = await linli.press(COMMITTEE, screen, "📎 说明或照片")
    out = await linli.say(COMMITTEE, "公示栏缺两处")
    # not scored yet: the evidence waits for the score (nothing counted as scored)
    assert "佐证已收到" in out[0]["text"] and "待随评分保存的佐证：公示栏缺两处" in out[-1]["text"]
    assert "0/3" in out[-1]["text"]
    _, out = await linli.press(COMMITTEE, out[-1], "2")  # 4 − 2 × 0.5 = 3
    screen = await linli.last(COMMITTEE)
    assert "1/3" in screen["text"] and "1.2 制度健全" in screen["text"]
    assert buttons(screen)[:3] == ["✅ 全部做到（2）", "◐ 部分做到（1）", "✖ 未做到（0）"]
    _, out = await linli.press(COMMITTEE, screen, "跳过 ▶")  # skip 1.2, score 2.1 first
    screen = await linli.last(COMMITTEE)
    assert "2.1 垃圾日产日清" in screen["text"]
    _, out = await linli.press(COMMITTEE, screen, "📎 说明或照片")  # a photo as evidence, its caption the note
    await linli.tg.send_photo(COMMITTEE, png((120, 90, 60)), caption="垃圾桶满溢")
    await linli.settle()
    screen = await linli.last(COMMITTEE)
    assert "2.1 垃圾日产日清" in screen["text"] and "垃圾桶满溢 · 📷" in screen["text"]
    _, out = await linli.press(COMMITTEE, screen, "◐ 部分做到（2）")
    screen = await linli.last(COMMITTEE)  # resumable: back to the unscored 1.2
    assert "2/3" in screen["text"] and "1.2 制度健全" in screen["text"]
    _, out = await linli.press(COMMITTEE, screen, "◐ 部分做到（1）")
    overview = await linli.last(COMMITTEE)
    # 1.1: 4 − 2 × 0.5 = 3; 1.2 partly: 1; 2.1 partly: 2 → 6 of 10
    assert "已评 3/3 项，目前 6 分" in overview["text"] and "1.1 一箱三栏公示: 3/4" in overview["text"]
    _, out = await linli.press(COMMITTEE, overview, "✅ 提交")
    assert "已提交：6 / 10 分" in (await linli.last(COMMITTEE))["text"]
    async with linli.db.uow() as uow:
        evaluation = (await uow.session.exec(select(PropertyEvaluation))).one()
        assert (evaluation.state, evaluation.items_points) == ("submitted", 6.0)
    told = await linli.last(STAFF)
    assert "锦绣苑" in told["text"] and "6 分，3 个扣分项" in told["text"]
    # the company's member sees the deductions with the evidence and replies to one
    out = await linli.say(STAFF, "/property_reply")
    assert "6 / 10 分" in out[-1]["text"] and "佐证：公示栏缺两处" in out[-1]["text"]
    sheet = out[-1]
    _, out = await linli.press(STAFF, sheet, "📷 第 2.1 项")
    assert out[-1]["photo"] is not None and "第 2.1 项的佐证" in out[-1]["caption"]
    out = [sheet]
    _, out = await linli.press(STAFF, out[-1], "💬 说明第 1.1 项")
    out = await linli.say(STAFF, "公示栏已于3日补齐")
    assert "您的说明已保存" in out[0]["text"] and "您的说明：公示栏已于3日补齐" in out[-1]["text"]
    async with linli.db.uow() as uow:
        row = (await uow.session.exec(select(PropertyItemScore).where(PropertyItemScore.code == "1.1"))).one()
        assert row.reply == "公示栏已于3日补齐" and row.note == "公示栏缺两处"
    # the committee cannot change it any more; a resident cannot reply
    out = await linli.say(COMMITTEE, "/property")
    assert "已提交" in out[-1]["text"] and "📝 为 1 号项目评分" not in buttons(out[-1])
    out = await linli.say(RESIDENT, "/property_reply")
    assert "只有该项目物业公司的人员才能对评分作出说明" in out[-1]["text"] and not buttons(out[-1])
