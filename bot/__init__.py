"""briefbot's Telegram front: python-telegram-bot over the index API."""

from .app import BotConfigError, Network, build_application, run

__all__ = ["BotConfigError", "Network", "build_application", "run"]
