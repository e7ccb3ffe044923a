"""The records the faces receive from the services, and the values they may build requests from.

Re-exported from the domain packages so that ``clipdesk.ui`` and ``clipdesk.cli`` import records
from here and nothing below the services layer (the import-linter contracts hold them to it).
Each area adds its own records in its section.
"""

from clipdesk.indexing.pipeline import IndexReport
from clipdesk.library.records import Folder, FolderStatus, Photo, PhotoStatus
from clipdesk.scanning.scanner import ChangeSet
from clipdesk.search.query import Query, QueryError
from clipdesk.search.searcher import SearchFilters, SearchResult
from clipdesk.tags.categories import (
    HIERARCHY_SEP,
    KEYWORDS_CATEGORY,
    Category,
    CategoryError,
    Label,
    Mode,
)
from clipdesk.tags.records import PhotoTag, TagState

__all__ = [
    "HIERARCHY_SEP",
    "KEYWORDS_CATEGORY",
    "Category",
    "CategoryError",
    "ChangeSet",
    "Folder",
    "FolderStatus",
    "IndexReport",
    "Label",
    "Mode",
    "Photo",
    "PhotoStatus",
    "PhotoTag",
    "Query",
    "QueryError",
    "SearchFilters",
    "SearchResult",
    "TagState",
]

# --- folders, indexing, search, status ------------------------------------------------------

# --- tags and heads ---------------------------------------------------------------------------

# --- models and training ----------------------------------------------------------------------
