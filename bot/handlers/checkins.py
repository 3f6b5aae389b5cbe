"""Daily check-ins (早看窗帘晚看灯): prompts, answers, incidents, /checkins, /away."""

from __future__ import annotations

from bot.core.dispatch import Router

router = Router()
