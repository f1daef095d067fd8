"""One settings class for the CLI, the bot and deployments: env vars ``BRIEFBOT_*`` or ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """Every knob briefbot reads; names are relied on by scripts and deployments."""

    model_config = SettingsConfigDict(env_prefix="BRIEFBOT_", env_file=".env", extra="ignore")

    # --- store -------------------------------------------------------------------------------
    store: Path = Field(Path(".briefbot/store"), description="Directory of the embedded Chroma store.")
    chroma_host: str | None = Field(None, description="Chroma server host; set to use server mode.")
    chroma_port: int = Field(8000, description="Chroma server port (server mode).")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    collection_prefix: str = Field("briefbot", description="Prefix of the Chroma collection names.")
    model: str | None = Field(
        None,
        description="sentence-transformers model (path or hub name); default: the bundled all-MiniLM-L6-v2.",
    )
    cache_dir: Path | None = Field(
        None, description="Where the keyword-index cache lives; default: <store>/cache or a temp dir."
    )
    onnx_questions: bool = Field(
        True, description="Encode questions with an ONNX Runtime export of the model (made once, a third of the CPU).",
    )
    model_cache: Path | None = Field(
        None, description="Where that export is kept; default: $XDG_CACHE_HOME/briefbot/models (~/.cache).",
    )
    question_threads: int = Field(
        1, ge=1, le=64,
        description="Threads ONNX Runtime uses for one question (1: least CPU a question; the bot runs questions side by side).",
    )

    # --- answers -------------------------------------------------------------------------------
    top_k: int = Field(3, ge=1, le=20, description="Passages per answer.")
    max_question_chars: int = Field(1000, ge=10, description="Longer questions are refused with a reason.")
    question_cache: int = Field(512, ge=0, description="Recent question vectors kept (\"More\" and repeats skip the model); 0: none.")
    row_cache_mb: float = Field(
        64.0, ge=0, description="Memory for chunk rows kept from recent questions' candidates (MB); 0: none."
    )
    min_support: float | None = Field(
        None, description="Override of the refusal gate's probability threshold (0..1); leave unset normally."
    )

    # --- ingest --------------------------------------------------------------------------------
    max_file_mb: float = Field(20.0, gt=0, description="Largest file accepted for ingest, in MB.")
    max_page_mb: float = Field(5.0, gt=0, description="Largest web page fetched for ingest, in MB.")
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds allowed for fetching one URL.")
    allow_private_urls: bool = Field(
        False, description="Allow ingesting URLs on private, loopback or link-local addresses."
    )
    allowed_url_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Hosts allowed even when private (e.g. 127.0.0.1 in tests)."
    )

    # --- telegram ------------------------------------------------------------------------------
    telegram_token: SecretStr | None = Field(None, description="Bot token from @BotFather.")
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server root; /bot<token>/ is appended."
    )
    allowed_chats: IdList = Field(default_factory=list, description="Chat ids the bot serves.")
    allowed_users: IdList = Field(default_factory=list, description="User ids served in private chats.")
    admins: IdList = Field(default_factory=list, description="User ids allowed to change the store.")
    qa_channels: IdList = Field(default_factory=list, description="Channel ids whose posts are questions.")
    rate_limit: int = Field(20, ge=1, description="Questions per user per minute.")
    leave_unknown_groups: bool = Field(True, description="Leave groups that are not allowed.")
    webhook_url: str | None = Field(None, description="Public URL for webhook mode; unset: long polling.")
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, description="Port the webhook server listens on.")
    webhook_secret: SecretStr | None = Field(None, description="Secret token Telegram sends with updates.")

    @field_validator("allowed_chats", "allowed_users", "admins", "qa_channels", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(v) for v in value.replace(";", ",").split(",") if v.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("allowed_url_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip().lower() for v in value.split(",") if v.strip()]
        return value

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured."""
        return bool(self.chroma_host)
