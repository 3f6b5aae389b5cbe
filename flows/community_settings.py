"""A community's own settings, seen and changed by its admins (`/settings`, `linli community settings`).

Each feature reads its settings from `Community.settings` with defaults of its own, and a value that does not
parse falls back to the default there (a typo must never stop a clock). This module is the one place they are
*written*: every known setting is a `Setting` (where it lives in the JSON, its kind, its default, its range);
`set_value` parses and checks a typed value, writes it (or removes it: back to the default) and audits the
change with the old and new value. Unknown keys are refused, so nothing can be written that nobody reads.

Kinds: "hhmm" (a local time, 07:30), "minutes" and "hours" (a positive number, within the setting's range),
"days" (whole days: visits to key persons by risk colour).
The check-in times must stay in order (morning < midday < evening) and quiet hours must not be empty.

When a change takes effect is the reading feature's business and is said with the setting (`applies`):
check-in times from the next day not yet planned (a day's checks are planned the evening before), the ladder's
minutes at once, quiet hours for posts not yet queued, request clocks for requests entering a stage later, visit
intervals from each person's next recorded visit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select

from flows import audit
from flows.checkins.settings import DEFAULTS as CHECKIN_DEFAULTS
from flows.checkins.settings import hhmm
from flows.errors import Invalid, NotFound
from flows.loans import OVERDUE_REMINDERS
from flows.membership import Actor
from flows.property.rectify import FIX_DAYS
from flows.property.survey import SURVEY_DAY
from flows.quiet import GROUP_FROM, GROUP_UNTIL
from flows.requests import CLOCKS
from flows.roles import Perm
from flows.visits.access import DEFAULT_DAYS as VISIT_DAYS
from storage.db import UnitOfWork
from storage.models import Community


@dataclass(frozen=True)
class Setting:
    key: str  # the name people type (and the audit shows): "checkin.morning", "quiet_from", "clock.hazard.assess"
    path: tuple[str, ...]  # where it lives in Community.settings
    section: str  # checkin | quiet | requests | visits | property | spaces
    kind: str  # hhmm | minutes | hours | days (whole days) | count (a whole number, 0 allowed when low < 0)
    default: Any
    low: float = 0.0  # numbers: more than this
    high: float = 0.0  # numbers: at most this
    applies: str = "now"  # now | next_plan | next_post | next_stage | next_visit | next_month


def _checkin(name: str, kind: str, applies: str) -> Setting:
    return Setting(f"checkin.{name}", ("checkin", name), "checkin", kind, CHECKIN_DEFAULTS[name],
                   0, 24 * 60, applies)


SETTINGS: tuple[Setting, ...] = (
    _checkin("morning", "hhmm", "next_plan"),
    _checkin("midday", "hhmm", "next_plan"),
    _checkin("evening", "hhmm", "next_plan"),
    _checkin("remind_after", "minutes", "now"),
    _checkin("backup_after", "minutes", "now"),
    _checkin("escalate_after", "minutes", "now"),
    _checkin("incident_repeat", "minutes", "now"),
    _checkin("grace", "minutes", "now"),
    Setting("quiet_from", ("quiet_from",), "quiet", "hhmm", GROUP_FROM.strftime("%H:%M"), applies="next_post"),
    Setting("quiet_until", ("quiet_until",), "quiet", "hhmm", GROUP_UNTIL.strftime("%H:%M"), applies="next_post"),
    *(Setting(f"clock.{kind}.{stage}", ("request_clocks", kind, stage), "requests", "hours",
              CLOCKS[kind][stage].total_seconds() / 3600, 0, 24 * 90, "next_stage")
      for kind in ("hazard", "dispute", "request") for stage in ("assess", "resolve")),
    *(Setting(f"visits.{colour}", ("visits", colour), "visits", "days", VISIT_DAYS[colour], 0, 365, "next_visit")
      for colour in ("red", "yellow", "green")),
    Setting("property_survey_day", ("property_survey_day",), "property", "count", SURVEY_DAY, 0, 28, "next_month"),
    Setting("property_survey_sample", ("property_survey_sample",), "property", "count", 0, -1, 100_000,
            "next_month"),
    Setting("property_fix_days", ("property_fix_days",), "property", "days", FIX_DAYS, 0, 365, "next_month"),
    Setting("overdue_reminders", ("overdue_reminders",), "spaces", "count", OVERDUE_REMINDERS, -1, 10),
)
BY_KEY = {s.key: s for s in SETTINGS}
SECTIONS = ("checkin", "quiet", "requests", "visits", "property", "spaces")
RESET = ("default", "默认", "-")  # typed instead of a value: back to the default


@dataclass(frozen=True)
class Value:
    setting: Setting
    value: Any  # what the community has, or the default
    own: bool  # set by the community (False: the default)


def _read(settings: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = settings
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _valid(setting: Setting, value: Any) -> bool:
    if setting.kind == "hhmm":
        return isinstance(value, str) and hhmm(value) is not None
    if setting.kind in ("days", "count") and (not isinstance(value, int) or isinstance(value, bool)):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool) and setting.low < value <= setting.high


def values(community: Community, section: str | None = None) -> list[Value]:
    """The settings of a section (all when None) as the community has them: its own where valid, else defaults."""
    stored = community.settings or {}
    out = []
    for s in SETTINGS:
        if section is not None and s.section != section:
            continue
        raw = _read(stored, s.path)
        own = raw is not None and _valid(s, raw)
        out.append(Value(s, raw if own else s.default, own))
    return out


def parse(setting: Setting, text: str) -> Any:
    """A typed value for `setting`, or Invalid("setting", reason, …): reason bad_time | bad_number | range."""
    raw = text.strip().replace("：", ":")
    if setting.kind == "hhmm":
        at = hhmm(raw)
        if at is None:
            raise Invalid("setting", "bad_time", key=setting.key)
        return at.strftime("%H:%M")
    try:
        number = float(raw.replace(",", "."))
    except ValueError as exc:
        raise Invalid("setting", "bad_number", key=setting.key) from exc
    if setting.kind in ("days", "count") and number != int(number):
        raise Invalid("setting", "whole_days" if setting.kind == "days" else "whole", key=setting.key)
    if not setting.low < number <= setting.high:
        raise Invalid("setting", "range", key=setting.key, low=_shown(setting.low), high=_shown(setting.high))
    return int(number) if number == int(number) else round(number, 2)


def _shown(x: float) -> int | float:
    return int(x) if x == int(x) else x


def _check_together(community: Community, changed: Setting, value: Any) -> None:
    """Rules across settings: the check-in times in order, quiet hours not empty."""
    current = {v.setting.key: v.value for v in values(community)}
    current[changed.key] = value if value is not None else changed.default
    if changed.section == "checkin" and changed.kind == "hhmm":
        times = [hhmm(current[f"checkin.{n}"]) for n in ("morning", "midday", "evening")]
        if not (times[0] and times[1] and times[2] and times[0] < times[1] < times[2]):
            raise Invalid("setting", "order", key=changed.key)
    if changed.section == "quiet" and current["quiet_from"] == current["quiet_until"]:
        raise Invalid("setting", "empty_quiet", key=changed.key)


def _written(settings: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A new dict (SQLAlchemy sees a JSON column change only when it is a new object) with `path` set, or
    removed when `value` is None (empty parents removed too)."""
    head, *rest = path
    out = dict(settings)
    if not rest:
        if value is None:
            out.pop(head, None)
        else:
            out[head] = value
        return out
    child = out.get(head) if isinstance(out.get(head), dict) else {}
    inner = _written(child, tuple(rest), value)
    if inner:
        out[head] = inner
    else:
        out.pop(head, None)
    return out


async def set_value(uow: UnitOfWork, *, actor: Actor | None, key: str, text: str | None, now: datetime,
                    community_id: int | None = None) -> Value:
    """Set a setting from what the admin typed (`text`), or back to its default (`text` None or one of RESET).
    `actor` None is the command line (`linli community settings`, on `community_id`), audited "via cli".
    The community's row is read for update, so two admins changing settings at once do not lose a change."""
    if actor is not None:
        community_id = actor.require(Perm.SETTINGS).community_id
    setting = BY_KEY.get(key)
    if setting is None:
        raise NotFound("setting", key)
    community = (await uow.session.exec(
        select(Community).where(Community.id == community_id).with_for_update())).one()
    await uow.session.refresh(community)  # the row as it is now, not as this session first read it
    value = None if text is None or text.strip().lower() in RESET else parse(setting, text)
    _check_together(community, setting, value)
    old = next(v for v in values(community) if v.setting.key == key)
    community.settings = _written(community.settings or {}, setting.path, value)
    uow.session.add(community)
    audit.record(uow, action="settings.set", now=now, community_id=community.id,
                 actor_user_id=actor.user.id if actor is not None else None, subject_type="community",
                 subject_id=community.id, key=key, old=old.value if old.own else None, new=value,
                 via="bot" if actor is not None else "cli")
    return next(v for v in values(community) if v.setting.key == key)
