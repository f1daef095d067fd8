"""briefbot's search as a LangChain retriever, so any chain can cite what it returns."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .service import Briefbot
from .types import Filters


class BriefbotRetriever(BaseRetriever):
    """Returns one ``Document`` per cited passage; metadata carries the whole citation.

    ``page_content`` is the passage; ``metadata["quote"]`` the verbatim sentence(s) that answer,
    with ``quote_start``/``quote_end`` offsets into the report's canonical text. A refused question
    returns no documents, so a downstream LLM is never handed unsupported text.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: Briefbot
    k: int = 3
    filters: Filters = Filters()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        answer = self.service.ask(query, k=kwargs.get("k", self.k), filters=kwargs.get("filters", self.filters))
        if not answer.answered:
            return []
        docs = []
        for p in answer.passages:
            meta = p.to_json()
            text = meta.pop("text")
            docs.append(Document(page_content=text, metadata=meta, id=p.chunk_id))
        return docs
