"""preprocessing.json of a segmentation run: the classes (and the ids and colours the user's masks use), the U-Net's
shape, and how large images are tiled. The network standardizes raw pixels itself (its first layer), so no pixel
statistics are needed to predict.

Example:
    >>> prep = SegmentationPreprocessor.from_dict(json.loads(Path("run/preprocessing.json").read_text()))
    >>> prep.classes_, prep.depth, prep.input_specs()
    (['background', 'object'], 3, {'image': {'shape': (None, None, 1), 'dtype': 'float32'}})
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from deepwise.kinds.segmentation.legend import Legend, parse_color

FORMAT = "segmentation/1"


@dataclass
class SegmentationPreprocessor:
    """What turns an image file into the network's input and its output into a mask in the user's class ids."""

    legend: Legend
    channels: int
    plan: dict[str, Any]  # unet.UNetPlan.to_dict(): depth, base_filters, patch, batch_size, reason
    tile: int = 512
    mean: list[float] = field(default_factory=list)  # the training pixels' per-channel mean and spread (said, and
    std: list[float] = field(default_factory=list)  # the padding value of validation pieces)
    mask_format: str = ""
    columns: list[str] = field(default_factory=list)  # no input columns: pixels
    target_stats_: Any = None

    @property
    def classes_(self) -> list[str]:
        return list(self.legend.names)

    @property
    def n_classes(self) -> int:
        return len(self.legend.ids)

    @property
    def depth(self) -> int:
        return int(self.plan["depth"])

    @property
    def multiple(self) -> int:
        """Image sides the network takes are multiples of this (``2**depth``)."""
        return 2**self.depth

    def input_specs(self) -> dict[str, dict[str, Any]]:
        """The network's input: images of any size (multiples of ``2**depth``), raw pixel values as float32."""
        return {"image": {"shape": (None, None, self.channels), "dtype": "float32"}}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "legend": self.legend.to_dict(),
            "legend_source": self.legend.source,
            "channels": self.channels,
            "plan": self.plan,
            "tile": self.tile,
            "mean": self.mean,
            "std": self.std,
            "mask_format": self.mask_format,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SegmentationPreprocessor:
        rows = state["legend"]["classes"]
        legend = Legend(
            ids=[int(r["id"]) for r in rows],
            names=[str(r["name"]) for r in rows],
            colors=[parse_color(r["color"], "preprocessing.json") if r.get("color") else None for r in rows],
            source=state.get("legend_source", ""),
        )
        return cls(
            legend=legend,
            channels=int(state["channels"]),
            plan=dict(state["plan"]),
            tile=int(state.get("tile", 512)),
            mean=list(state.get("mean", [])),
            std=list(state.get("std", [])),
            mask_format=state.get("mask_format", ""),
        )


def plan_dict(plan: Any) -> dict[str, Any]:
    """A UNetPlan as JSON-able values."""
    return {k: (int(v) if isinstance(v, int) else v) for k, v in asdict(plan).items()}
