"""The process's heap after start-up, set aside from Python's cyclic garbage collector (#11, per-update cost).

A running bot holds some 360,000 objects it made while starting (modules, SQLAlchemy's mappers and compiled
statements, pydantic's validators, the catalogs) that live as long as the process. Python's collector walks all of
them in every full collection: under load one came every second or two and stopped the event loop for about
200 ms (every update waiting meanwhile), some 15 % of a busy bot's time. `settle` collects once and then freezes
what is left (`gc.freeze`): later collections look only at objects made since. Nothing changes for what the bot
makes afterwards; objects frozen here and released later are still freed by their reference counts (only a
cycle among them would stay until the process ends — start-up made them to keep).

Called by whoever starts a long-running process (`linli run`, the sandbox, the benchmarks' bots), once, after
the app started — never by tests, which start and stop many apps in one process."""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("linli.heap")


def settle() -> int:
    """Collect, then freeze every object still alive; returns how many are frozen now."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("%d objects set aside from the garbage collector", frozen)
    return frozen
