"""The care ledger (重点人员关爱台账): /person, /pair, /mine, /grid."""

from __future__ import annotations

from bot.core.dispatch import Router

router = Router()
