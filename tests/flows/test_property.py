"""Property evaluation (#15, F-10): the indicator file and its validation, projects and the company's members,
the monthly scoring (resumable, submitted once), the formula against hand-computed fixtures, the minimum sample,
the complaints matched by estate name, the ranking with trends and the 约谈 flag, the right of reply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from flows import access, membership
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.property import evaluation as ev
from flows.property import indicators as ind_mod
from flows.property import projects as pp
from flows.property import ranking, scoring
from flows.property.indicators import IndicatorError, loads_indicators
from flows.roles import Org, Role
from storage.db import Database
from storage.models import AuditEntry, Member
from storage.models_complaints import HotlineComplaint
from storage.models_property import PropertyResult, PropertySurvey
from tests.flows.people import actor_of, enrol

IND = ind_mod.district()


# ---------------------------------------------------------------- item 1: the indicator file

def test_item1_district_default_has_9_categories_39_items_weights_100() -> None:
    assert len(IND.categories) == 9
    assert len(IND.items) == 39
    assert sum(c.weight for c in IND.categories) == 100
    assert all(abs(sum(i.weight for i in c.items) - c.weight) < 1e-9 for c in IND.categories)
    assert IND.shares == {"items": 70.0, "satisfaction": 20.0, "complaints": 10.0}
    first = IND.item("2.1")
    assert first is not None and first.rule.kind == "per" and first.rule.per == 1.0
    assert IND.item("1.1").rule.kind == "grade"  # type: ignore[union-attr]
    assert "Sources:" in ind_mod.DISTRICT_FILE.read_text(encoding="utf-8")  # the sources' note is kept


SMALL = """
total: 10
formula: {items: 60, satisfaction: 30, complaints: 10}
complaints_zero_at: 20
survey_min_answers: 5
survey_min_share: 0.2
categories:
  - key: a
    name: {zh: 甲, en: A}
    weight: 6
    items:
      - {zh: 一, weight: 4, rule: "−0.5 per place"}
      - {zh: 二, weight: 2}
  - key: b
    name: {zh: 乙}
    weight: 4
    items:
      - {zh: 三, weight: 4, rule: 每处扣1分}
"""


def test_item1_a_small_file_loads_with_its_settings() -> None:
    ind = loads_indicators(SMALL)
    assert [i.code for i in ind.items] == ["1.1", "1.2", "2.1"]
    assert ind.total == 10 and ind.complaints_zero_at == 20 and ind.survey_min_answers == 5
    assert ind.item("2.1").rule.per == 1.0  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "message"), [
    (("weight: 6\n", "weight: 7\n"), "category 1 '甲': weight 7 but its items add up to 6"),
    (("weight: 4\n    items", "weight: 5\n    items"), "the category weights add up to 11, not 10"),
    (('rule: "−0.5 per place"', 'rule: "half off sometimes"'), "item 1.1 '一': unknown rule 'half off sometimes'"),
    (("{zh: 二, weight: 2}", "{zh: 二, weight: zero}"), "item 1.2 '二': weight must be a positive number"),
    (("formula: {items: 60,", "formula: {items: 50,"), "formula: the shares add up to 90, not 100"),
    (("survey_min_share: 0.2", "survey_min_share: 2"), "survey_min_share: '2' is not a valid value"),
    (("{zh: 二, weight: 2}", "{weight: 2}"), "item 1.2: needs a name (zh)"),
    (("  - key: b\n", "  - key: a\n"), "key 'a' is used twice"),
])
def test_item1_validation_names_the_item_at_fault(change: tuple[str, str], message: str) -> None:
    with pytest.raises(IndicatorError) as caught:
        loads_indicators(SMALL.replace(*change))
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_item1_broken_yaml_gives_the_line() -> None:
    with pytest.raises(IndicatorError) as caught:
        loads_indicators(SMALL.replace("{zh: 二, weight: 2}", "{zh: 二, weight: 2"))
    assert "line 13" in str(caught.value)


def test_item1_rules_score_full_partial_none_and_capped_deductions() -> None:
    ind = loads_indicators(SMALL)
    one, two = ind.item("1.1"), ind.item("1.2")
    assert one is not None and two is not None
    assert one.rule.points(4, count=3) == 2.5  # 4 − 3 × 0.5
    assert one.rule.points(4, count=20) == 0  # capped at the weight: never below 0
    assert [two.rule.points(2, grade=g) for g in ("full", "partial", "none")] == [2, 1, 0]


def test_item1_cli_checks_a_file(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from linli_cli import main

    good = tmp_path / "good.yaml"
    good.write_text(SMALL, encoding="utf-8")
    assert main(["property", "indicators", "check", str(good)]) == 0
    assert "3 items" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.replace('"−0.5 per place"', '"sometimes"'), encoding="utf-8")
    assert main(["property", "indicators", "check", str(bad)]) == 1
    assert "item 1.1 '一': unknown rule 'sometimes'" in capsys.readouterr().err
    assert main(["property", "indicators", "check", str(ind_mod.DISTRICT_FILE)]) == 0


# ---------------------------------------------------------------- item 4: the formula, by hand

def test_item4_score_against_hand_computed_fixture() -> None:
    # items: 85.5 of 100 points → 70 × 85.5 / 100 = 59.85
    # satisfaction: mean 4.2 → 20 × (4.2 − 1) / 4 = 16.0
    # complaints: 3 in 500 households → 3 × 1000 / 500 = 6.0 per 1,000 → 10 × (1 − 6 / 30) = 8.0
    # score = 59.85 + 16.0 + 8.0 = 83.85; required answers = min(30, ceil(0.1 × 500) = 50) = 30
    s = scoring.score(IND, items_points=85.5, satisfaction_mean=4.2, answers=30, households=500, complaints=3)
    assert (s.items_part, s.satisfaction_part, s.rate, s.complaints_part, s.total) == (59.85, 16.0, 6.0, 8.0, 83.85)
    assert s.required == 30 and s.sufficient
    # 45 complaints in 1,000 households = 45 per 1,000 ≥ 30 → the complaint part is 0, never negative
    s = scoring.score(IND, items_points=100, satisfaction_mean=5, answers=40, households=1000, complaints=45)
    assert (s.complaints_part, s.total) == (0.0, 90.0)  # 70 + 20 + 0


def test_item4_minimum_sample_not_ranked() -> None:
    # 200 households: min(30, ceil(0.1 × 200) = 20) = 20 answers needed; 19 → 样本不足, no score
    assert scoring.required_answers(IND, 200) == 20
    short = scoring.score(IND, items_points=90, satisfaction_mean=4, answers=19, households=200, complaints=0)
    assert short.total is None and not short.sufficient and short.items_part == 63.0
    enough = scoring.score(IND, items_points=90, satisfaction_mean=4, answers=20, households=200, complaints=0)
    assert enough.total == 63.0 + 15.0 + 10.0  # 70×0.9 + 20×(4−1)/4 + 10
    assert scoring.required_answers(IND, 1000) == 30  # the setting caps it
    assert scoring.required_answers(IND, 3) == 1


def test_item6_ranks_trends_and_bottom_streak() -> None:
    assert scoring.ranks([(1, 80.0), (2, 90.0), (3, 80.0), (4, None), (5, 70.0)]) == {2: 1, 1: 2, 3: 2, 5: 4}
    assert [scoring.trend(80, 78), scoring.trend(80, 82), scoring.trend(80, 80.2), scoring.trend(80, None)] \
        == ["↑", "↓", "→", ""]
    months = [{1: 1, 2: 2, 3: 3, 4: 4, 5: 5}, {1: 5, 2: 2, 3: 3, 4: 4, 5: 1}, {1: 1, 2: 4, 3: 3, 4: 5, 5: 2}]
    assert scoring.bottom_streak(months, 3) == {3, 4}  # bottom three each month: {3,4,5}, {1,3,4}, {2,3,4}
    assert scoring.bottom_streak(months[:2], 3) == set()


# ---------------------------------------------------------------- the world of the flows' tests

@dataclass
class World:
    community_id: int
    members: dict[str, int]


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=clock.now(),
                                                         buildings=["1", "2", "3"])
        people = {"admin": Role.ADMIN, "committee": (Role.COMMITTEE, Org.RESIDENTS_COMMITTEE), "staff": None,
                  "resident": None}
        members = await enrol(uow, community_id=community.id or 0, people=people, first_tg_id=500,
                              now=clock.now())
        await uow.commit()
        return World(community_id=community.id or 0, members=members)


async def _project(db: Database, clock: FixedClock, households: int = 500) -> int:
    admin = await actor_of(db, 500)
    async with db.uow() as uow:
        project = await pp.add_project(uow, actor=admin, company="海河物业", estate="锦绣苑", households=households,
                                       aliases=["锦绣苑小区", "锦秀园"], now=clock.now())
        await pp.link_buildings(uow, actor=admin, number=project.number, labels=["1", "2"], now=clock.now())
        await pp.grant_staff(uow, actor=admin, number=project.number, member_id=(await actor_of(db, 502)).member.id,  # type: ignore[union-attr]
                             now=clock.now())
        await uow.commit()
        return project.number


# ---------------------------------------------------------------- item 2: projects and the company's members

async def test_item2_projects_numbered_buildings_and_staff(db: Database, clock: FixedClock, world: World) -> None:
    number = await _project(db, clock)
    admin = await actor_of(db, 500)
    async with db.uow() as uow:
        second = await pp.add_project(uow, actor=admin, company="津门物业", estate="和园", households=120,
                                      now=clock.now())
        assert (number, second.number) == (1, 2)
        with pytest.raises(Invalid) as served:
            await pp.link_buildings(uow, actor=admin, number=2, labels=["3", "2"], now=clock.now())
        assert served.value.details == {"field": "building", "reason": "served", "building": "2", "project": 1}
        with pytest.raises(NotFound):
            await pp.link_buildings(uow, actor=admin, number=2, labels=["9"], now=clock.now())
        with pytest.raises(Invalid):
            await pp.add_project(uow, actor=admin, company="x" * 101, estate="y", households=1, now=clock.now())
    staff = await actor_of(db, 502)
    assert "property_staff" in staff.roles
    async with db.uow() as uow:  # never without a project: not by /grant nor by an invite
        with pytest.raises(Invalid):
            await membership.grant_role(uow, actor=admin, member_id=world.members["resident"],
                                        role=Role.PROPERTY_STAFF, org=None, now=clock.now())
        with pytest.raises(Invalid):
            await membership.create_invite(uow, actor=admin, role=Role.PROPERTY_STAFF, org=None, now=clock.now())
    async with db.uow() as uow:
        assert [p.number for p in await pp.staff_projects(uow, actor=staff)] == [1]
        assert [b.label for b in await pp.buildings_of(uow, project_id=(await pp.get_project(
            uow, community_id=world.community_id, number=1)).id or 0)] == ["1", "2"]
        assert (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "property.staff_grant"))).first()
    for who in (501, 503):  # a committee member, a resident: no setting up
        async with db.uow() as uow:
            with pytest.raises(Forbidden):
                await pp.add_project(uow, actor=await actor_of(db, who), company="a", estate="b", households=1,
                                     now=clock.now())
    async with db.uow() as uow:  # the role revoked: the company's view stops
        await access.revoke_role(uow, actor=admin, member_id=staff.member.id or 0,  # type: ignore[union-attr]
                                 role=Role.PROPERTY_STAFF, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await pp.staff_projects(uow, actor=await actor_of(db, 502))
    async with db.uow() as uow:  # made the company's member of project 2 later: project 1 does not come back
        await pp.add_project(uow, actor=admin, company="津门物业", estate="和园", households=120, now=clock.now())
        await pp.grant_staff(uow, actor=admin, number=2, member_id=staff.member.id or 0,  # type: ignore[union-attr]
                             now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        assert [p.number for p in await pp.staff_projects(uow, actor=await actor_of(db, 502))] == [2]


async def test_item4_complaints_matched_by_estate_name_and_alias(db: Database, clock: FixedClock,
                                                                 world: World) -> None:
    await _project(db, clock)
    async with db.uow() as uow:
        for i, estate in enumerate(["锦绣苑", "锦绣苑小区", " 锦秀园 ", "北辰区锦绣苑3号楼", "别的小区", ""]):
            uow.session.add(HotlineComplaint(community_id=world.community_id, source_id=f"GD{i}",
                                             received_at=clock.now(), estate=estate, imported_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        assert await pp.match_complaints(uow, community_id=world.community_id) == 4
        await uow.commit()
    async with db.uow() as uow:
        assert await pp.match_complaints(uow, community_id=world.community_id) == 0  # once
        rows = (await uow.session.exec(select(HotlineComplaint).order_by(HotlineComplaint.source_id))).all()
        assert [r.property_project_id is not None for r in rows] == [True, True, True, True, False, False]


# ---------------------------------------------------------------- item 3: the monthly scoring

async def _score_all(db: Database, clock: FixedClock, number: int, *, deduct: dict[str, int | str]) -> int:
    committee = await actor_of(db, 501)
    async with db.uow() as uow:
        sheet = await ev.open_sheet(uow, actor=committee, number=number, now=clock.now())
        for item in IND.items:
            answer = deduct.get(item.code)
            if item.rule.kind == "per":
                await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    code=item.code, count=int(answer or 0), now=clock.now())
            else:
                await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    code=item.code, grade=str(answer or "full"), note="", now=clock.now())
        await uow.commit()
        return sheet.evaluation.id or 0


async def test_item3_scoring_resumable_and_submitted_once(db: Database, clock: FixedClock, world: World) -> None:
    number = await _project(db, clock)
    committee = await actor_of(db, 501)
    async with db.uow() as uow:
        sheet = await ev.open_sheet(uow, actor=committee, number=number, now=clock.now())
        await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0, code="1.1",
                            grade="partial", note="未亮牌", now=clock.now())
        with pytest.raises(Invalid):  # a deduction item takes a count, not a grade
            await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                code="2.1", grade="full", now=clock.now())
        for bad in ({"code": "2.1", "count": ev.MAX_COUNT + 1}, {"code": "2.1", "count": -1},
                    {"code": "1.2", "grade": "half"}, {"code": "1.2", "grade": "full", "note": "长" * 501}):
            with pytest.raises(Invalid):
                await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    now=clock.now(), **bad)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0, code="9.9",
                                grade="full", now=clock.now())
        await uow.commit()
    async with db.uow() as uow:  # evidence after the score keeps the points; before it, nothing is written
        row = await ev.add_evidence(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                    code="1.1", note="党员未亮牌", photo="photo-1", now=clock.now())
        assert row is not None and (row.points, row.note, row.photo) == (1.0, "党员未亮牌", "photo-1")
        assert await ev.add_evidence(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                     code="1.3", note="x", photo=None, now=clock.now()) is None
        with pytest.raises(Invalid):
            await ev.add_evidence(uow, actor=committee, ind=IND, evaluation_id=sheet.evaluation.id or 0,
                                  code="1.3", note="长" * 501, photo=None, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:  # resumed: the next unscored item is 1.2
        again = await ev.open_sheet(uow, actor=committee, number=number, now=clock.now())
        assert again.evaluation.id == sheet.evaluation.id and again.next_code(IND) == "1.2"
        with pytest.raises(Invalid) as missing:
            await ev.submit(uow, actor=committee, ind=IND, evaluation_id=again.evaluation.id or 0, now=clock.now())
        assert missing.value.details["count"] == 38
    # 1.1 partial (−1), 2.1 two missing (−2), 3.1 six places × 0.2 (−1.2), 7.1 none (−3): 100 − 7.2 = 92.8
    evaluation_id = await _score_all(db, clock, number, deduct={"1.1": "partial", "2.1": 2, "3.1": 6, "7.1": "none"})
    async with db.uow() as uow:
        assert await ev.submit(uow, actor=committee, ind=IND, evaluation_id=evaluation_id, now=clock.now()) == 92.8
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):  # a second press, or a second scorer
            await ev.submit(uow, actor=committee, ind=IND, evaluation_id=evaluation_id, now=clock.now())
        with pytest.raises(AlreadyDone):
            await ev.score_item(uow, actor=committee, ind=IND, evaluation_id=evaluation_id, code="1.1",
                                grade="full", now=clock.now())
    async with db.uow() as uow:
        with pytest.raises(Forbidden):
            await ev.open_sheet(uow, actor=await actor_of(db, 503), number=number, now=clock.now())


# ---------------------------------------------------------------- item 7: the right of reply

async def test_item7_company_replies_to_deductions_before_publication(db: Database, clock: FixedClock,
                                                                      world: World) -> None:
    number = await _project(db, clock)
    evaluation_id = await _score_all(db, clock, number, deduct={"2.1": 1})
    staff = await actor_of(db, 502)
    async with db.uow() as uow:
        with pytest.raises(Forbidden):  # not before submission
            await ev.sheet(uow, actor=staff, evaluation_id=evaluation_id)
        await ev.submit(uow, actor=await actor_of(db, 501), ind=IND, evaluation_id=evaluation_id, now=clock.now())
        await uow.commit()
    async with db.uow() as uow:
        current = await ev.sheet(uow, actor=staff, evaluation_id=evaluation_id)
        assert [i.code for i, _ in ev.deductions(IND, current)] == ["2.1"]
        with pytest.raises(NotFound):  # no deduction there
            await ev.reply(uow, actor=staff, ind=IND, evaluation_id=evaluation_id, code="1.1", text="x",
                           now=clock.now())
        row = await ev.reply(uow, actor=staff, ind=IND, evaluation_id=evaluation_id, code="2.1",
                             text="公示栏已于3日补齐", now=clock.now())
        assert row.reply == "公示栏已于3日补齐"
        with pytest.raises(Forbidden):  # a resident is not the company
            await ev.reply(uow, actor=await actor_of(db, 503), ind=IND, evaluation_id=evaluation_id, code="2.1",
                           text="x", now=clock.now())
        await uow.commit()


# ---------------------------------------------------------------- items 4 and 6: the month's results

async def test_item6_compute_month_with_sample_rule_and_idempotent(db: Database, clock: FixedClock,
                                                                   world: World) -> None:
    number = await _project(db, clock, households=100)  # required answers: min(30, ceil(0.1 × 100)) = 10
    evaluation_id = await _score_all(db, clock, number, deduct={"2.1": 2})  # 98 points
    admin = await actor_of(db, 500)
    async with db.uow() as uow:
        await ev.submit(uow, actor=await actor_of(db, 501), ind=IND, evaluation_id=evaluation_id, now=clock.now())
        other = await pp.add_project(uow, actor=admin, company="津门物业", estate="和园", households=100,
                                     now=clock.now())
        p1 = (await pp.get_project(uow, community_id=world.community_id, number=number)).id or 0
        members = [m.id for m in (await uow.session.exec(select(Member))).all()]
        month = ev.month_of(clock.now(), "Asia/Shanghai")
        # the four members' households answered for project 1: 4, 4, 4, 4, 5 each → mean 4.2
        for member_id in members:
            uow.session.add(PropertySurvey(community_id=world.community_id, project_id=p1, month=month,
                                           member_id=member_id or 0, answers=[4, 4, 4, 4, 5], sent_at=clock.now(),
                                           answered_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        answered = len((await uow.session.exec(select(PropertySurvey))).all())
    assert answered == 4  # four members in this world: fewer than 10 → 样本不足
    async with db.uow() as uow:
        uow.session.add(HotlineComplaint(community_id=world.community_id, source_id="GD1",
                                         received_at=clock.now(), estate="锦绣苑", imported_at=clock.now()))
        uow.session.add(HotlineComplaint(community_id=world.community_id, source_id="GD2",  # last month: not counted
                                         received_at=datetime(2027, 1, 15, tzinfo=UTC), estate="锦绣苑",
                                         imported_at=clock.now()))
        assert await ranking.compute(uow, month=month, now=clock.now()) == 2
        await uow.commit()
    async with db.uow() as uow:
        rows = {r.project_id: r for r in (await uow.session.exec(select(PropertyResult))).all()}
        mine = rows[p1]
        # items 70 × 98 / 100 = 68.6; satisfaction 20 × (4.2 − 1) / 4 = 16; 1 complaint / 100 households = 10
        # per 1,000 → 10 × (1 − 10/30) = 6.67; only 4 answers of 10 needed → no total, no rank
        assert (mine.items_part, mine.satisfaction_part, mine.rate, mine.complaints_part) == (68.6, 16.0, 10.0, 6.67)
        assert (mine.total, mine.rank, mine.sufficient, mine.answers, mine.required) == (None, None, False, 4, 10)
        assert rows[other.id or 0].items_part is None  # not scored
        lines = await ranking.board(uow, month=month)
        assert [ln.rank for ln in lines] == [None, None]
        # run again: the same rows, updated in place
        assert await ranking.compute(uow, month=month, now=clock.now()) == 2
        await uow.commit()
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(PropertyResult))).all()) == 2


async def test_item6_board_trend_year_on_year_and_flag(db: Database, clock: FixedClock, world: World) -> None:
    admin = await actor_of(db, 500)
    async with db.uow() as uow:
        ids = []
        for n in range(5):
            p = await pp.add_project(uow, actor=admin, company=f"物业{n}", estate=f"小区{n}", households=100,
                                     now=clock.now())
            ids.append(p.id or 0)
        # five projects over 2026-03 and 2026-12 … 2027-03; project 5 (index 4) is last three months running
        totals = {"2026-03": [90, 80, 70, 60, 50], "2027-01": [90, 88, 70, 60, 50], "2027-02": [90, 80, 70, 60, 50],
                  "2027-03": [85, 80, 75, 60, 50]}
        for month, values in totals.items():
            ranked = scoring.ranks(zip(ids, values, strict=True))
            for pid, total in zip(ids, values, strict=True):
                uow.session.add(PropertyResult(community_id=world.community_id, project_id=pid, month=month,
                                               total=total, rank=ranked[pid], sufficient=True, answers=30,
                                               required=10, rate=total / 10, computed_at=clock.now()))
        await uow.commit()
    async with db.uow() as uow:
        lines = await ranking.board(uow, month="2027-03")
    assert [ln.rank for ln in lines] == [1, 2, 3, 4, 5]
    assert [ln.trend for ln in lines] == ["↓", "→", "↑", "→", "→"]  # 85 vs 90, 80 vs 80, 75 vs 70 …
    assert [ln.rate_last_year for ln in lines] == [9.0, 8.0, 7.0, 6.0, 5.0]
    # bottom three: 2027-01 {3,4,5}, 2027-02 {3,4,5}, 2027-03 {3,4,5} → projects 3, 4, 5 flagged
    assert [ln.flagged for ln in lines] == [False, False, True, True, True]
