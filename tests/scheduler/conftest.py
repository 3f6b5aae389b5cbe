"""The bot harness's fixtures, for the test that runs the real scheduler against the stand-in."""

from tests.bot.conftest import linli, runtime, standin, tg  # noqa: F401
