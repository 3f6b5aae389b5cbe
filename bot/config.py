"""Settings: environment variables with the prefix LINLI_, or a .env file."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    secret_key_file: str = Field(default="./data/secret.key", description="Used (and created) when SECRET_KEY is empty")
    webhook_url: str = Field(default="", description="Public HTTPS URL; set it to use webhooks instead of polling")
    webhook_secret: str = Field(default="", description="Checked in X-Telegram-Bot-Api-Secret-Token; required "
                                "with webhook_url (1-256 of A-Z a-z 0-9 _ -)")
    webhook_path: str = Field(default="/telegram/webhook")
    runtime: str = Field(default="aiogram", description="aiogram or ptb")
    web_host: str = Field(default="127.0.0.1")
    web_port: int = Field(default=8000)
    web_docs: bool = Field(default=False, description="Serve the API description at /docs, /redoc, /openapi.json")
    throttle: bool = Field(default=True, description="Per-person and per-group rate limits on what people send")
    needs_per_member: int = Field(default=10, ge=1, description="Needs one member may submit per collection")
    sandbox_port: int = Field(default=8080, description="Port of the sandbox chat page and Bot API stand-in")
    outbox_rate: float = Field(default=30.0, description="Messages per second overall")
    outbox_per_chat: float = Field(default=1.0, description="Messages per second to one chat")
    outbox_per_group_minute: int = Field(default=20, description="Messages per minute to one group")
    outbox_concurrency: int = Field(default=16)
    run_sender: bool = Field(default=True, description="Run the outbox sender in this process")
    run_scheduler: bool = Field(default=True, description="Run the scheduler in this process")
    button_ttl_hours: int = Field(default=72, description="How long a button keeps working")
    log_level: str = Field(default="INFO")

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

    def secret(self) -> bytes:
        """The secret key, creating a key file on first use when none is configured."""
        if self.secret_key:
            return self.secret_key.encode()
        path = Path(self.secret_key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()
