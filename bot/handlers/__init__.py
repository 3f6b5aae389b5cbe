"""Handlers per feature, framework-free: each parses, calls a flow, and words the result."""

from __future__ import annotations

from bot.core.dispatch import Router
from bot.handlers import groups, roles, start
from bot.handlers.common import FALLBACKS, report_error

__all__ = ["FALLBACKS", "build_router", "report_error"]


def build_router() -> Router:
    router = Router()
    for feature in (start.router, roles.router, groups.router):
        router.include(feature)
    return router
