"""Daily check-ins (早看窗帘晚看灯): planning, the escalation ladder, answers, incidents, absences.

Everything is found from the database: `tick(uow, now)` is the one entry point of the scheduler
and may run any number of times, from any number of processes. Every state change is a
compare-and-set on the row (``UPDATE … WHERE status = … AND stage = …``, flows/ladder.py) and only the
process whose update took the row queues the message, whose dedupe key is unique as well: nothing is
sent twice. Flows queue typed notices (flows/checkins/notices.py), never display text, and never a key
person's name or contact: alias, room and building only.

The modules, along the feature's seams:

- `settings`: the stored vocabulary as enums (`Status`, `Stage`, `Answer`, `Reason`, `Outcome`, …), the
  community's settings and local time;
- `people`: who is asked and alerted (looked up once per tick);
- `planning`: the prompts of a local day;
- `climbing`: the ladder — sending what fell due, reminder → backup → grid worker, incidents re-alerted
  (on flows/ladder.py: the tracks `PROMPTS` and `INCIDENTS`, the alert rows);
- `answers`: a volunteer's press, a volunteer who lost the role;
- `incidents`: taking, escalating and closing an incident;
- `absences`: `/away`, and the welcome back;
- `overview`: `/checkins`, the week's figures, Monday's thanks;
- `daily`: the scheduler's `tick`;
- `notices`: the notices, one frozen dataclass per kind.

What callers use is re-exported here.
"""

from __future__ import annotations

from flows.checkins.absences import add_absence, cancel_absence, list_absences, parse_day
from flows.checkins.answers import STALE_AFTER, AnswerView, answer, prompt_view, release_volunteer
from flows.checkins.climbing import INCIDENTS, PROMPTS, TickResult
from flows.checkins.daily import tick
from flows.checkins.incidents import (
    IncidentView,
    alerted,
    close_incident,
    help_incident,
    set_incident_note,
    take_incident,
)
from flows.checkins.notices import (
    CheckPrompt,
    ChecksMissed,
    GroupAlert,
    IncidentAlert,
    IncidentClosed,
    IncidentClosedGroup,
    IncidentTaken,
    WeeklyThanks,
    WelcomeBack,
)
from flows.checkins.overview import (
    BuildingDay,
    VolunteerWeek,
    WeekStats,
    today_overview,
    week_overview,
    week_stats,
    weekly_thanks,
)
from flows.checkins.people import Recipient, effective_assignee
from flows.checkins.planning import plan
from flows.checkins.settings import (
    ANSWERS,
    DEFAULT_ZONE,
    DEFAULTS,
    MAX_AWAY_DAYS,
    MAX_LISTED,
    OUTCOMES,
    PLAN_TOMORROW_FROM,
    SLOTS,
    Answer,
    CheckinRefused,
    IncidentStatus,
    Outcome,
    Reason,
    Result,
    Slot,
    Stage,
    Status,
    due_at,
    local_today,
    settings_of,
    slot_times,
)

__all__ = [
    "ANSWERS", "DEFAULTS", "DEFAULT_ZONE", "INCIDENTS", "MAX_AWAY_DAYS", "MAX_LISTED", "OUTCOMES",
    "PLAN_TOMORROW_FROM", "PROMPTS", "SLOTS", "STALE_AFTER", "Answer", "AnswerView", "BuildingDay", "CheckPrompt",
    "CheckinRefused", "ChecksMissed", "GroupAlert", "IncidentAlert", "IncidentClosed", "IncidentClosedGroup",
    "IncidentStatus", "IncidentTaken", "IncidentView", "Outcome", "Reason", "Recipient", "Result", "Slot", "Stage",
    "Status", "TickResult", "VolunteerWeek", "WeekStats", "WeeklyThanks", "WelcomeBack", "add_absence", "alerted",
    "answer", "cancel_absence", "close_incident", "due_at", "effective_assignee", "help_incident", "list_absences",
    "local_today", "parse_day", "plan", "prompt_view", "release_volunteer", "set_incident_note", "settings_of",
    "slot_times", "take_incident", "tick", "today_overview", "week_overview", "week_stats", "weekly_thanks",
]
