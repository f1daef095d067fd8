"""briefbot's Telegram front: python-telegram-bot over the index API."""
