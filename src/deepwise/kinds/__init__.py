"""Every kind of data deepwise handles, registered once; the rest of deepwise asks this registry, never which kind it
holds (see ARCHITECTURE.md, "Adding a kind of data").

Example:
    >>> kind = kind_for_config(config)          # the first registered kind that claims the config's data
    >>> data = kind.prepare(config)
    >>> kind_named("images").unit
    'images'
"""

from __future__ import annotations

from deepwise.config import Config
from deepwise.errors import RunError
from deepwise.kinds.base import DataKind, Predictor, Prepared, Problem, SavedRun
from deepwise.kinds.generation import GenerativeImagesKind, GenerativeTableKind, ImageToImageKind
from deepwise.kinds.images import ImagesKind
from deepwise.kinds.segmentation import SegmentationKind
from deepwise.kinds.series import SeriesKind
from deepwise.kinds.table import TableKind
from deepwise.kinds.text import TextKind
from deepwise.kinds.translation import TranslationKind

#: in the order they are asked to claim a config; a table is the default, so it comes last
KINDS: dict[str, DataKind] = {}


def register(kind: DataKind) -> DataKind:
    """Add a kind of data (before the table, which claims anything no other kind does)."""
    KINDS.pop(TableKind.name, None)
    KINDS[kind.name] = kind
    KINDS.setdefault(TableKind.name, _TABLE)
    return kind


_TABLE = TableKind()
# the generative kinds and translation first (they are asked for by name: problem.task generate, translation); text
# before images: a folder of class sub-folders of .txt files is text; segmentation before images: a folder with
# images/ and masks/ is segmentation; image-to-image before images: a folder with inputs/ and targets/ is image
# pairs; any other folder is images
_FIRST = (GenerativeImagesKind(), GenerativeTableKind(), TranslationKind(), TextKind())
for _kind in (*_FIRST, SegmentationKind(), ImageToImageKind(), ImagesKind(), SeriesKind()):
    register(_kind)


def kind_for_config(config: Config) -> DataKind:
    """The kind of data of a config: the first registered kind that claims it."""
    return next(kind for kind in KINDS.values() if kind.claims(config))


def kind_named(name: str) -> DataKind:
    """The kind a saved run names (its metrics.json / manifest.json "kind")."""
    if name not in KINDS:
        raise RunError(
            f"This run holds data of the kind '{name}', which this deepwise does not know.",
            expected="a run of one of the kinds: " + ", ".join(KINDS),
            fix="open it with the deepwise version that trained it (its manifest.json names the version).",
        )
    return KINDS[name]


def prepare(config: Config) -> Prepared:
    """Steps 1-3 for any config: the kind of its data formulates, splits and preprocesses it."""
    return kind_for_config(config).prepare(config)


__all__ = [
    "KINDS",
    "DataKind",
    "Predictor",
    "Prepared",
    "Problem",
    "SavedRun",
    "kind_for_config",
    "kind_named",
    "prepare",
    "register",
]
