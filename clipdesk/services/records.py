"""The records the faces receive from the services, and the values they may build requests from.

Re-exported from the domain packages so that ``clipdesk.ui`` and ``clipdesk.cli`` import records
from here and nothing below the services layer (the import-linter contracts hold them to it).

Each name is imported from its home on first use (PEP 562): the window imports a few light
records (categories, tag states) while it is built, and must not pay for the library, the
scanner or torch before it has painted. Type checkers and import-linter read the imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the `X as X` form marks each as re-exported
    from clipdesk.cluster.job import EmbedRequest as EmbedRequest
    from clipdesk.cluster.job import EmbedSummary as EmbedSummary
    from clipdesk.indexing.report import IndexReport as IndexReport
    from clipdesk.library.records import Folder as Folder
    from clipdesk.library.records import FolderStatus as FolderStatus
    from clipdesk.library.records import Photo as Photo
    from clipdesk.library.records import PhotoStatus as PhotoStatus
    from clipdesk.library.words import OcrBox as OcrBox
    from clipdesk.library.words import OcrCount as OcrCount
    from clipdesk.library.words import PhotoText as PhotoText
    from clipdesk.model.download import CatalogEntry as CatalogEntry
    from clipdesk.model.finetune_options import TOWERS as TOWERS
    from clipdesk.model.finetune_options import FinetuneOptions as FinetuneOptions
    from clipdesk.model.finetune_options import FinetuneResult as FinetuneResult
    from clipdesk.model.installs import InstallSweep as InstallSweep
    from clipdesk.model.manager import ModelInfo as ModelInfo
    from clipdesk.model.versions import VersionInfo as VersionInfo
    from clipdesk.scanning.scanner import ChangeSet as ChangeSet
    from clipdesk.search.query import Query as Query
    from clipdesk.search.query import QueryError as QueryError
    from clipdesk.search.results import SearchFilters as SearchFilters
    from clipdesk.search.results import SearchResult as SearchResult
    from clipdesk.services.folders import FolderAdded as FolderAdded
    from clipdesk.services.folders import FolderNode as FolderNode
    from clipdesk.services.folders import FolderRecord as FolderRecord
    from clipdesk.services.folders import FolderRelocated as FolderRelocated
    from clipdesk.services.folders import PhotoProblem as PhotoProblem
    from clipdesk.services.model_catalog import CatalogRow as CatalogRow
    from clipdesk.services.model_catalog import CatalogTable as CatalogTable
    from clipdesk.services.models import Activation as Activation
    from clipdesk.services.models import LoadedModel as LoadedModel
    from clipdesk.services.ocr import OcrBacklog as OcrBacklog
    from clipdesk.services.ocr import OcrReport as OcrReport
    from clipdesk.services.purge_notice import PurgeNotice as PurgeNotice
    from clipdesk.services.search import FoundPhoto as FoundPhoto
    from clipdesk.services.search import PhotoSearch as PhotoSearch
    from clipdesk.services.status import StatusReport as StatusReport
    from clipdesk.services.switch_cost import ReembedEstimate as ReembedEstimate
    from clipdesk.services.switch_cost import SwitchCost as SwitchCost
    from clipdesk.services.training import CAPTION_SOURCE_TITLES as CAPTION_SOURCE_TITLES
    from clipdesk.services.training import CAPTION_SOURCES as CAPTION_SOURCES
    from clipdesk.services.training import FinetuneRun as FinetuneRun
    from clipdesk.services.training import FinetuneStopped as FinetuneStopped
    from clipdesk.services.training import PairSummary as PairSummary
    from clipdesk.services.vectors import ImportSummary as ImportSummary
    from clipdesk.tags.categories import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
    from clipdesk.tags.categories import HIERARCHY_SEP as HIERARCHY_SEP
    from clipdesk.tags.categories import KEYWORDS_CATEGORY as KEYWORDS_CATEGORY
    from clipdesk.tags.categories import Category as Category
    from clipdesk.tags.categories import CategoryError as CategoryError
    from clipdesk.tags.categories import Label as Label
    from clipdesk.tags.categories import Mode as Mode
    from clipdesk.tags.category_file import CategoryFileError as CategoryFileError
    from clipdesk.tags.category_file import category_to_dict as category_to_dict
    from clipdesk.tags.heads.calibration import Calibration as Calibration
    from clipdesk.tags.heads.calibration import LabelCalibration as LabelCalibration
    from clipdesk.tags.heads.examples import CategoryExamples as CategoryExamples
    from clipdesk.tags.heads.examples import Comparison as Comparison
    from clipdesk.tags.heads.fit import Head as Head
    from clipdesk.tags.heads.teach import NotEnoughLabelsError as NotEnoughLabelsError
    from clipdesk.tags.heads.teach import TeachResult as TeachResult
    from clipdesk.tags.marks import LABELS as LABELS
    from clipdesk.tags.marks import MAX_RATING as MAX_RATING
    from clipdesk.tags.prompts import DEFAULT_TEMPLATES as DEFAULT_TEMPLATES
    from clipdesk.tags.records import CONFIRMED_STATES as CONFIRMED_STATES
    from clipdesk.tags.records import TAGGED_STATES as TAGGED_STATES
    from clipdesk.tags.records import PhotoTag as PhotoTag
    from clipdesk.tags.records import TaggedPhoto as TaggedPhoto
    from clipdesk.tags.records import TagState as TagState
    from clipdesk.tags.store.bulk import LABEL_ARROW as LABEL_ARROW
    from clipdesk.tags.store.bulk import BulkAction as BulkAction
    from clipdesk.tags.store.bulk import BulkTagging as BulkTagging
    from clipdesk.tags.store.counts import LabelCount as LabelCount
    from clipdesk.tags.store.steps import DecisionStep as DecisionStep
    from clipdesk.tags.tagger import RecomputeReport as RecomputeReport
    from clipdesk.tags.tagger import XmpReport as XmpReport
    from clipdesk.tags.xmp.sidecar import SidecarNaming as SidecarNaming

_HOMES: dict[str, str] = {
    "Activation": "clipdesk.services.models",
    "CAPTION_SOURCES": "clipdesk.services.training",
    "CAPTION_SOURCE_TITLES": "clipdesk.services.training",
    "CONFIRMED_STATES": "clipdesk.tags.records",
    "BulkAction": "clipdesk.tags.store.bulk",
    "BulkTagging": "clipdesk.tags.store.bulk",
    "CatalogEntry": "clipdesk.model.download",
    "CatalogRow": "clipdesk.services.model_catalog",
    "CatalogTable": "clipdesk.services.model_catalog",
    "Calibration": "clipdesk.tags.heads.calibration",
    "Category": "clipdesk.tags.categories",
    "CategoryError": "clipdesk.tags.categories",
    "CategoryExamples": "clipdesk.tags.heads.examples",
    "CategoryFileError": "clipdesk.tags.category_file",
    "ChangeSet": "clipdesk.scanning.scanner",
    "Comparison": "clipdesk.tags.heads.examples",
    "DEFAULT_TEMPLATES": "clipdesk.tags.prompts",
    "DEFAULT_THRESHOLD": "clipdesk.tags.categories",
    "DecisionStep": "clipdesk.tags.store.steps",
    "EmbedRequest": "clipdesk.cluster.job",
    "EmbedSummary": "clipdesk.cluster.job",
    "FinetuneOptions": "clipdesk.model.finetune_options",
    "FinetuneResult": "clipdesk.model.finetune_options",
    "FinetuneRun": "clipdesk.services.training",
    "FinetuneStopped": "clipdesk.services.training",
    "Folder": "clipdesk.library.records",
    "FolderAdded": "clipdesk.services.folders",
    "FolderNode": "clipdesk.services.folders",
    "FolderRecord": "clipdesk.services.folders",
    "FolderRelocated": "clipdesk.services.folders",
    "FolderStatus": "clipdesk.library.records",
    "FoundPhoto": "clipdesk.services.search",
    "HIERARCHY_SEP": "clipdesk.tags.categories",
    "Head": "clipdesk.tags.heads.fit",
    "ImportSummary": "clipdesk.services.vectors",
    "IndexReport": "clipdesk.indexing.report",
    "InstallSweep": "clipdesk.model.installs",
    "KEYWORDS_CATEGORY": "clipdesk.tags.categories",
    "LABELS": "clipdesk.tags.marks",
    "LABEL_ARROW": "clipdesk.tags.store.bulk",
    "Label": "clipdesk.tags.categories",
    "LabelCount": "clipdesk.tags.store.counts",
    "LabelCalibration": "clipdesk.tags.heads.calibration",
    "LoadedModel": "clipdesk.services.models",
    "MAX_RATING": "clipdesk.tags.marks",
    "Mode": "clipdesk.tags.categories",
    "ModelInfo": "clipdesk.model.manager",
    "NotEnoughLabelsError": "clipdesk.tags.heads.teach",
    "OcrBacklog": "clipdesk.services.ocr",
    "OcrBox": "clipdesk.library.words",
    "OcrCount": "clipdesk.library.words",
    "OcrReport": "clipdesk.services.ocr",
    "PairSummary": "clipdesk.services.training",
    "Photo": "clipdesk.library.records",
    "PhotoProblem": "clipdesk.services.folders",
    "PhotoSearch": "clipdesk.services.search",
    "PhotoStatus": "clipdesk.library.records",
    "PhotoTag": "clipdesk.tags.records",
    "PhotoText": "clipdesk.library.words",
    "PurgeNotice": "clipdesk.services.purge_notice",
    "Query": "clipdesk.search.query",
    "QueryError": "clipdesk.search.query",
    "RecomputeReport": "clipdesk.tags.tagger",
    "ReembedEstimate": "clipdesk.services.switch_cost",
    "SearchFilters": "clipdesk.search.results",
    "SearchResult": "clipdesk.search.results",
    "SidecarNaming": "clipdesk.tags.xmp.sidecar",
    "StatusReport": "clipdesk.services.status",
    "SwitchCost": "clipdesk.services.switch_cost",
    "TAGGED_STATES": "clipdesk.tags.records",
    "TOWERS": "clipdesk.model.finetune_options",
    "TagState": "clipdesk.tags.records",
    "TaggedPhoto": "clipdesk.tags.records",
    "TeachResult": "clipdesk.tags.heads.teach",
    "VersionInfo": "clipdesk.model.versions",
    "XmpReport": "clipdesk.tags.tagger",
    "category_to_dict": "clipdesk.tags.category_file",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
