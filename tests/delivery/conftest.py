"""The delivery tests use the Bot API stand-in fixtures of the bot tests."""

from tests.bot.conftest import standin, tg  # noqa: F401 (fixtures)
