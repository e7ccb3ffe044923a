"""The records the faces receive from the services, and the values they may build requests from.

Re-exported from the domain packages so that ``clipdesk.ui`` and ``clipdesk.cli`` import records
from here and nothing below the services layer (the import-linter contracts hold them to it).
Each area adds its own records in its section.
"""

from clipdesk.indexing.report import IndexReport
from clipdesk.library.records import Folder, FolderStatus, Photo, PhotoStatus
from clipdesk.scanning.scanner import ChangeSet
from clipdesk.search.query import Query, QueryError
from clipdesk.search.results import SearchFilters, SearchResult
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
from clipdesk.services.folders import FolderAdded, FolderRecord, PhotoProblem  # noqa: E402
from clipdesk.services.search import FoundPhoto, PhotoSearch  # noqa: E402
from clipdesk.services.status import StatusReport  # noqa: E402

__all__ += [
    "FolderAdded",
    "FolderRecord",
    "FoundPhoto",
    "PhotoProblem",
    "PhotoSearch",
    "StatusReport",
]

# --- tags and heads ---------------------------------------------------------------------------
from clipdesk.tags.categories import DEFAULT_THRESHOLD  # noqa: E402
from clipdesk.tags.category_file import CategoryFileError, category_to_dict  # noqa: E402
from clipdesk.tags.heads.examples import CategoryExamples, Comparison  # noqa: E402
from clipdesk.tags.heads.fit import Head  # noqa: E402
from clipdesk.tags.heads.teach import NotEnoughLabelsError, TeachResult  # noqa: E402
from clipdesk.tags.prompts import DEFAULT_TEMPLATES  # noqa: E402
from clipdesk.tags.records import (  # noqa: E402
    CONFIRMED_STATES,
    TAGGED_STATES,
    TaggedPhoto,
)
from clipdesk.tags.tagger import RecomputeReport, XmpReport  # noqa: E402
from clipdesk.tags.xmp.sidecar import SidecarNaming  # noqa: E402

__all__ += [
    "CONFIRMED_STATES",
    "DEFAULT_TEMPLATES",
    "DEFAULT_THRESHOLD",
    "TAGGED_STATES",
    "CategoryExamples",
    "CategoryFileError",
    "Comparison",
    "Head",
    "NotEnoughLabelsError",
    "RecomputeReport",
    "SidecarNaming",
    "TaggedPhoto",
    "TeachResult",
    "XmpReport",
    "category_to_dict",
]

# --- models and training ----------------------------------------------------------------------

from clipdesk.model.download import CatalogEntry  # noqa: E402
from clipdesk.model.finetune_options import TOWERS, FinetuneOptions, FinetuneResult  # noqa: E402
from clipdesk.model.manager import ModelInfo  # noqa: E402
from clipdesk.model.versions import VersionInfo  # noqa: E402
from clipdesk.services.models import Activation, LoadedModel  # noqa: E402
from clipdesk.services.training import (  # noqa: E402
    CAPTION_SOURCE_TITLES,
    CAPTION_SOURCES,
    FinetuneRun,
    FinetuneStopped,
    PairSummary,
)

__all__ += [
    "CAPTION_SOURCES",
    "CAPTION_SOURCE_TITLES",
    "TOWERS",
    "Activation",
    "CatalogEntry",
    "FinetuneOptions",
    "FinetuneResult",
    "FinetuneRun",
    "FinetuneStopped",
    "LoadedModel",
    "ModelInfo",
    "PairSummary",
    "VersionInfo",
]
