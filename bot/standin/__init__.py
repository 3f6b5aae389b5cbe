"""A local, strict stand-in for Telegram's Bot API, with a control API for tests.

- :class:`~bot.standin.server.StandIn`: the HTTP server (Bot API, files, control API, web page)
- :class:`~bot.standin.client.StandInClient`: async client of the control API
- :class:`~bot.standin.limits.RateLimits` / :class:`~bot.standin.limits.Faults`: knobs
"""

from .client import StandInClient
from .limits import Faults, RateLimits
from .server import StandIn

__all__ = ["Faults", "RateLimits", "StandIn", "StandInClient"]
