"""The needs list (需求清单): collecting, browsing, supporting and reviewing residents' needs."""

from __future__ import annotations

from bot.core.dispatch import Router

router = Router()
