"""briefbot's index: reports in, cited passages out. Knows nothing about Telegram."""

from .errors import (
    BriefbotError,
    FetchError,
    LoadError,
    NotFound,
    QuestionError,
    StoreBusy,
    StoreUnavailable,
)
from .progress import IngestProgress
from .service import Briefbot
from .settings import Settings
from .types import EMPTY, REFUSAL, Answer, Filters, IngestItem, IngestSummary, Passage, ReportInfo

__all__ = [
    "EMPTY",
    "REFUSAL",
    "Answer",
    "Briefbot",
    "BriefbotError",
    "FetchError",
    "Filters",
    "IngestItem",
    "IngestProgress",
    "IngestSummary",
    "LoadError",
    "NotFound",
    "Passage",
    "QuestionError",
    "ReportInfo",
    "Settings",
    "StoreBusy",
    "StoreUnavailable",
]
