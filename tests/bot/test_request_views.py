"""A request's staff view stays one Telegram message however long its history (#13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.core.i18n import tr
from bot.handlers.request_work import TIMELINE_MAX, _timeline
from flows.request_work import Timeline
from storage.models import Community
from storage.models_requests import Request, RequestEvent

T0 = datetime(2027, 3, 1, 1, 30, tzinfo=UTC)


def test_item1_a_long_timeline_is_cut_to_fit_one_message() -> None:
    row = Request(id=1, community_id=1, year=2027, number=1, kind="hazard", category="fire", reporter_member_id=1,
                  created_at=T0, updated_at=T0)
    events = [RequestEvent(id=i, community_id=1, request_id=1, at=T0 + timedelta(hours=i),
                           action="report" if i == 0 else "progress", note="进展" * 250) for i in range(40)]
    community = Community(id=1, slug="c", name="c", timezone="Asia/Shanghai")
    ctx = SimpleNamespace(actor=SimpleNamespace(home=lambda: community), lang="zh_CN",
                          t=lambda msgid, **kw: tr("zh_CN", msgid, **kw))
    text = _timeline(ctx, Timeline(request=row, building=None, events=events))  # type: ignore[arg-type]
    lines = text.split("\n")
    assert len(lines) == TIMELINE_MAX + 1 and lines[1] == "…"
    assert lines[0].startswith("03-01 09:30 · 反映") and lines[-1].startswith("03-03 00:30 · 进展")
    assert len(text) < 2_000
