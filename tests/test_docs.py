"""The README stays true: every setting is in its table, the two set-up commands are there, and the walk-through's
demo people, member numbers and order match the sandbox (issue #12 item 7)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings
from flows.roles import Role

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"`LINLI_{name.upper()}`" not in README]
    assert missing == []


def test_the_quick_start_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


# ---------------------------------------------------------------- issue #12 item 7: the walk-through

WALK = README.split("Try it", 1)[1].split("The sandbox keeps its database", 1)[0]
TABLE = README.split("| who (Telegram id) | role |", 1)[1].split("\n\n", 1)[0]


def _numbers() -> dict[str, int]:
    """Member numbers in the demo: the seeded people in seed order, then the newcomer (who registers in step 1)."""
    from bot.sandbox import PEOPLE

    seeded = [p for p in PEOPLE if p.role is not None]
    numbers = {p.name: i for i, p in enumerate(seeded, 1)}
    numbers.update({p.name: len(seeded) + 1 for p in PEOPLE if p.role is None})
    return numbers


def test_item7_the_demo_table_is_the_sandbox_seed() -> None:
    from bot.sandbox import PEOPLE

    by_id = {p.tg_id: p.name for p in PEOPLE}
    rows = [line for line in TABLE.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 9
    listed: dict[int, str] = {}
    for row in rows:
        who = row.split("|")[1]
        people = re.findall(r"(\S+?) \((\d{5})\)", who)
        numbers = [int(n) for n in re.findall(r"\d+", (re.findall(r"\[([^\]]*)\]", row) or [""])[-1])]
        assert people and len(numbers) == len(people), row
        for (name, tg_id), number in zip(people, numbers, strict=True):
            listed[int(tg_id)] = name
            assert by_id.get(int(tg_id)) == name, row
            assert _numbers()[name] == number, (name, number)
    assert listed == by_id  # everyone of the seed, nobody else


def test_item7_the_member_numbers_in_the_steps_are_the_people_they_say() -> None:
    from bot.sandbox import PEOPLE

    numbers = _numbers()
    name_of = {n: name for name, n in numbers.items()}
    roles = {p.name: {p.role} | ({Role.VOLUNTEER} if p.tg_id == 10008 else set()) for p in PEOPLE}
    grants = re.findall(r"`/grant (\d+) (\w+)`", WALK)
    assert grants, "the walk-through grants a role"
    for number, role in grants:  # the grant succeeds: the member exists and lacks the role
        assert int(number) in name_of and Role(role) not in roles[name_of[int(number)]], (number, role)
    for number, name in re.findall(r"`/need_for (\d+)` \(a door visit for (\S+?)\)", WALK):
        assert name_of[int(number)] == name
    for number, name in re.findall(r"send `(\d+)`: 责任人：(\S+?) ", WALK):
        assert name_of[int(number)] == name
    assert re.search(r"小周 is member no\. (\d+)", WALK).group(1) == str(numbers["小周（新居民）"])  # type: ignore[union-attr]


def test_item7_the_walk_through_comes_before_the_reference() -> None:
    walk = README.index("Try it")
    for section in ("## Running with real Telegram", "## Settings", "## Deploying at scale", "## Tests and benchmarks"):
        assert README.index(section) > walk, section
    steps = re.findall(r"^(\d)\. \*\*", WALK, flags=re.M)
    assert steps == [str(n) for n in range(1, len(steps) + 1)] and len(steps) >= 6
    for step in re.split(r"^\d\. ", WALK, flags=re.M)[1:]:  # each step says what to expect, point by point
        assert re.search(r"^   - ", step, flags=re.M), step[:60]


def test_item7_the_page_needs_an_emoji_font_and_make_test_installs_it() -> None:
    quick = README.split("## Quick start", 1)[1].split("Try it", 1)[0]
    assert "fonts-noto-color-emoji" in quick and "fonts-noto-cjk" in quick
    script = (Path(__file__).resolve().parent.parent / ".ci" / "browser-deps").read_text(encoding="utf-8")
    assert '"fonts-noto-color-emoji"' in script
