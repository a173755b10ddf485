"""Finding a sender's documents (電子帳簿保存法's search rule): one query for page, API and CSV.

    DocumentSearch(status=…, q=…, counterparty=…, date_from=…, date_to=…,
                   amount_min=…, amount_max=…, sort=…, descending=…)
    search_documents(db, owner_id, search, limit=…, offset=…) -> SearchPage
    csv_rows(db, owner_id, search) -> Iterator[str]       the whole result as CSV text

Every filter combines with every other (AND). Failures are `DomainError`s with a code.
"""

from webapp.search.export import CSV_MEDIA_TYPE, csv_filename, csv_rows, safe_cell
from webapp.search.query import (
    SORT_KEYS,
    DocumentSearch,
    SearchPage,
    search_documents,
    search_statement,
)

__all__ = [
    "CSV_MEDIA_TYPE",
    "SORT_KEYS",
    "DocumentSearch",
    "SearchPage",
    "csv_filename",
    "csv_rows",
    "safe_cell",
    "search_documents",
    "search_statement",
]
