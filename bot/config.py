"""Settings: environment variables with the prefix LINLI_, or a .env file."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.crypto import MIN_SECRET_BYTES


class SecretError(ValueError):
    """The secret key is missing, too short, or kept where others can read it: said plainly, with what to do."""


def checked_secret(value: bytes, where: str) -> bytes:
    if len(value) < MIN_SECRET_BYTES:
        raise SecretError(f"{where} is {len(value)} bytes long; at least {MIN_SECRET_BYTES} are needed. Make one with "
                          "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    return value


def create_key_file(path: Path, secrets_: list[str]) -> None:
    """Write a key file that only its owner can read, atomically: never a moment where it is readable by others
    or half written (a new file next to it, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("".join(s + "\n" for s in secrets_))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_key_file(path: Path, *, create: bool) -> list[bytes]:
    """The secrets of a key file: the current one first, then those it replaced (kept by `linli keys rotate`).
    Created (mode 600) when missing and `create`; refused when other users may read it."""
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:  # another process made it meanwhile: read theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise SecretError(f"secret key file {path} does not exist") from exc
    if os.name == "posix" and mode & 0o077:
        raise SecretError(f"secret key file {path} can be read by other users (mode {oct(mode & 0o777)}): "
                          f"run `chmod 600 {path}` (and check who copied it)")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise SecretError(f"secret key file {path} is empty")
    # the current secret must be long enough; those it replaced only open what they sealed (a short one is how
    # a deployment from before the length check moves to a long one)
    return [checked_secret(lines[0].encode(), f"the secret in {path}"), *(line.encode() for line in lines[1:])]
#: What Telegram accepts as a webhook's secret_token (setWebhook)
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """A setting that makes starting unsafe or impossible; the message names the setting and the fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_", env_file=".env", extra="ignore")

    bot_token: str = Field(default="", description="Telegram bot token from @BotFather; empty starts the sandbox")
    bot_api_url: str = Field(default="", description="A custom Bot API server (local stand-in or telegram-bot-api)")
    database_url: str = Field(default="sqlite+aiosqlite:///./data/linli.db")
    timezone: str = Field(default="Asia/Shanghai", description="Default time zone of new communities")
    locale: str = Field(default="zh_CN", description="Default language: zh_CN or en")
    secret_key: str = Field(default="", description="Signs buttons and encrypts the care ledger")
    secret_key_previous: str = Field(default="", description="The secret before `linli keys rotate` (still opens)")
    secret_key_file: str = Field(default="./data/secret.key", description="Used (and created) when SECRET_KEY is empty")
    webhook_url: str = Field(default="", description="Public HTTPS URL; set it to use webhooks instead of polling")
    webhook_secret: str = Field(default="", description="Checked in X-Telegram-Bot-Api-Secret-Token; required "
                                "with webhook_url (1-256 of A-Z a-z 0-9 _ -)")
    webhook_path: str = Field(default="/telegram/webhook")
    runtime: str = Field(default="aiogram", description="aiogram or ptb")
    web_host: str = Field(default="127.0.0.1")
    web_port: int = Field(default=8000)
    web_docs: bool = Field(default=False, description="Serve the API description at /docs, /redoc, /openapi.json")
    web_board: bool = Field(default=True, description="`linli run` serves the public board on WEB_HOST:WEB_PORT")
    public_url: str = Field(default="", description="The public board's address as people reach it (e.g. "
                            "https://board.example.org); the bot's /board links to it when set")
    media_dir: str = Field(default="./data/media", description="Cache of the board's resized project pictures")
    board_cache_seconds: float = Field(default=10.0, ge=0, description="How long the board keeps a rendered page "
                                       "(0: rendered for every request)")
    throttle: bool = Field(default=True, description="Per-person and per-group rate limits on what people send")
    redis_url: str = Field(default="", description="Redis (e.g. redis://127.0.0.1:6379/0) keeping the rate limits "
                           "for every process at once; empty: each process keeps its own")
    needs_per_member: int = Field(default=10, ge=1, description="Needs one member may submit per collection")
    sandbox_port: int = Field(default=8080, description="Port of the sandbox chat page and Bot API stand-in")
    outbox_rate: float = Field(default=30.0, description="Messages per second overall")
    outbox_per_chat: float = Field(default=1.0, description="Messages per second to one chat")
    outbox_per_group_minute: int = Field(default=20, description="Messages per minute to one group")
    outbox_concurrency: int = Field(default=16, ge=1, description="Outbox calls under way at once (a pool that "
                                    "refills as each call ends)")
    telegram_call_timeout: float = Field(default=15.0, gt=0, description="Seconds one Bot API call may take "
                                         "(long polls wait this on top of their own timeout); a call Telegram "
                                         "took but did not answer in time is sent again")
    outbox_retention_days: int = Field(default=7, ge=1, description="Sent outbox rows are purged after these days "
                                       "(a row with a dedupe key is kept without its payload)")
    run_sender: bool = Field(default=True, description="This process may take the sender role (one process holds "
                             "it: bot/election.py)")
    run_scheduler: bool = Field(default=True, description="This process may take the scheduler role (one holds it)")
    run_poller: bool = Field(default=True, description="Without a webhook: this process may take the poller role "
                             "(one process calls getUpdates)")
    role_check_seconds: float = Field(default=5.0, gt=0, description="How often a process renews its roles and a "
                                      "standby tries to take one")
    role_lease_seconds: float = Field(default=20.0, gt=0, description="SQLite: a holder that stopped renewing is "
                                      "replaced after this long, at least 3 × ROLE_CHECK_SECONDS (PostgreSQL frees the "
                                      "lock when the holder's session ends)")
    button_ttl_hours: int = Field(default=72, description="How long a button keeps working")
    log_level: str = Field(default="INFO", description="Linli's own log level: DEBUG, INFO, WARNING or ERROR")
    log_libraries: str = Field(default="WARNING", description="Log level of the libraries underneath (telegram, "
                               "httpx, aiosqlite, sqlalchemy …); below WARNING their output holds personal data")

    def check_webhook(self) -> None:
        """Webhook mode needs a secret Telegram sends with every update: without one anybody could post
        forged updates to the webhook and act as any user."""
        if not self.webhook_url:
            return
        if not self.webhook_secret:
            raise ConfigError("LINLI_WEBHOOK_SECRET must be set when LINLI_WEBHOOK_URL is set (webhook mode), e.g. "
                              "LINLI_WEBHOOK_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if not WEBHOOK_SECRET.fullmatch(self.webhook_secret):
            raise ConfigError("LINLI_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                              "(what Telegram accepts)")

    def check_redis(self) -> None:
        """LINLI_REDIS_URL, when set, must be a Redis address (what redis-py takes)."""
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("LINLI_REDIS_URL must start with redis://, rediss:// or unix:// "
                              "(e.g. redis://127.0.0.1:6379/0), or be empty")

    def secret(self) -> bytes:
        """The secret key, creating a key file on first use when none is configured; SecretError when too short
        or readable by others."""
        if self.secret_key:
            return checked_secret(self.secret_key.encode(), "LINLI_SECRET_KEY")
        return read_key_file(Path(self.secret_key_file), create=True)[0]

    def previous_secrets(self) -> list[bytes]:
        """The secrets the current one replaced (`linli keys rotate`): they still open and verify what they made."""
        old = [self.secret_key_previous.encode()] if self.secret_key_previous else []  # may be short: see above
        if self.secret_key:
            return old
        return read_key_file(Path(self.secret_key_file), create=True)[1:] + old

    def key_file_beside_database(self) -> bool:
        """Whether the key file sits in the SQLite database's directory (a copy of one carries the other)."""
        if self.secret_key or not self.database_url.startswith("sqlite"):
            return False
        db_file = self.database_url.split("///", 1)[-1].split("?", 1)[0]
        if not db_file or db_file == ":memory:":
            return False
        return Path(db_file).resolve().parent == Path(self.secret_key_file).resolve().parent
