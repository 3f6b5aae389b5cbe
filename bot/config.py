"""Settings: environment variables with the prefix LINLI_, or a .env file."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    webhook_secret: str = Field(default="", description="Checked in X-Telegram-Bot-Api-Secret-Token")
    webhook_path: str = Field(default="/telegram/webhook")
    runtime: str = Field(default="aiogram", description="aiogram or ptb")
    web_host: str = Field(default="127.0.0.1")
    web_port: int = Field(default=8000)
    sandbox_port: int = Field(default=8080, description="Port of the sandbox chat page and Bot API stand-in")
    outbox_rate: float = Field(default=30.0, description="Messages per second overall")
    outbox_per_chat: float = Field(default=1.0, description="Messages per second to one chat")
    outbox_per_group_minute: int = Field(default=20, description="Messages per minute to one group")
    outbox_concurrency: int = Field(default=16)
    run_sender: bool = Field(default=True, description="Run the outbox sender in this process")
    run_scheduler: bool = Field(default=True, description="Run the scheduler in this process")
    button_ttl_hours: int = Field(default=72, description="How long a button keeps working")
    log_level: str = Field(default="INFO", description="Linli's own log level: DEBUG, INFO, WARNING or ERROR")
    log_libraries: str = Field(default="WARNING", description="Log level of the libraries underneath (telegram, "
                               "httpx, aiosqlite, sqlalchemy …); below WARNING their output holds personal data")

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
