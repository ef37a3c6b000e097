"""``deepwise export``: the model of a run in a format other tools load, with its preprocessing next to it.

Every export is a folder holding the model (``model.keras``, ``model.onnx`` or ``saved_model/``), the fitted
``preprocessing.json`` (the model expects preprocessed arrays, not raw rows), ``export.json`` (inputs, outputs,
classes, how it was verified) and a short README. ONNX under JAX needs the ``export`` extra (jax2onnx, and
onnxruntime to verify the file); a SavedModel needs TensorFlow (the ``saved-model`` extra).

Example:
    >>> folder = export("runs/penguins-20260101-120000", "onnx")
    >>> sorted(p.name for p in folder.iterdir())
    ['README.md', 'export.json', 'model.onnx', 'preprocessing.json']
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.errors import DeepwiseError
from deepwise.records import MODEL, PREPROCESSING, atomic_write_text, write_json
from deepwise.run import Run, load_run

FORMATS = ("keras", "onnx", "saved_model", "script")
MODEL_FILES = {"keras": "model.keras", "onnx": "model.onnx", "saved_model": "saved_model", "script": "train.py"}
VERIFY_ROWS = 64
VERIFY_TOLERANCE = 1e-4


def _missing_modules(fmt: str, backend: str) -> tuple[list[str], str]:
    """Modules the format needs that are not installed, and the pip command that brings them."""
    if fmt == "onnx":
        needed = {"jax": ["jax2onnx", "onnx"], "tensorflow": ["tf2onnx", "onnx"], "torch": ["onnxscript", "onnx"]}
        modules = needed.get(backend, ["onnx"])
        packages = ["jax2onnx", "onnxruntime"] if backend == "jax" else [*modules, "onnxruntime"]
        fix = f"pip install {' '.join(packages)}" + (" (deepwise's 'export' extra)" if backend == "jax" else "")
    elif fmt == "saved_model":
        modules = ["tensorflow"]
        fix = "pip install tensorflow (deepwise's 'saved-model' extra)"
    else:
        return [], ""
    return [m for m in modules if importlib.util.find_spec(m) is None], fix


def check_format(fmt: str) -> None:
    """Raise a clear error for an unknown format or one whose optional dependencies are missing."""
    if fmt not in FORMATS:
        raise DeepwiseError(
            f"Unknown export format '{fmt}'.",
            expected="one of: " + ", ".join(FORMATS),
            fix='pass --format keras, onnx, saved_model or script (Python: export(run, "onnx")).',
        )
    from deepwise.backend import keras_module

    backend = keras_module().backend.backend()
    missing, fix = _missing_modules(fmt, backend)
    if missing:
        raise DeepwiseError(
            f"Exporting to {fmt} with the {backend} backend needs {', '.join(missing)}, which is not installed.",
            expected=f"the optional dependencies for {fmt} export",
            fix=f"install them with `{fix}`, or export with --format keras (no extra needed).",
        )


def sample_inputs(run: Run, n: int = VERIFY_ROWS, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
    """The network's input for ``n`` synthetic examples of the run's kind (to check an exported model)."""
    return run.kind.sample_inputs(run, n, seed)


def _onnx_ready(model: Any) -> Any:
    """The model with each max-pooling layer written as reshape + max (same weights, same outputs).

    jax2onnx 0.17 turns Keras' channels-last 2x2 max-pooling into an ONNX MaxPool over all four axes, which
    onnxruntime rejects ("Unsupported pooling size"): every CNN failed to export. Only pooling whose strides equal
    the window with 'valid' padding (deepwise's CNN) is rewritten; anything else is left as it is.
    """
    from deepwise.backend import keras_module

    keras = keras_module()
    ops = keras.ops

    class PoolByReshape(keras.layers.Layer):
        def __init__(self, pool: tuple[int, int], **kwargs):
            super().__init__(**kwargs)
            self.pool = pool

        def call(self, x):
            (ph, pw), (h, w, c) = self.pool, (x.shape[1] // self.pool[0], x.shape[2] // self.pool[1], x.shape[3])
            return ops.max(ops.reshape(x[:, : h * ph, : w * pw, :], (-1, h, ph, w, pw, c)), axis=(2, 4))

        def compute_output_shape(self, shape):
            return (shape[0], shape[1] // self.pool[0], shape[2] // self.pool[1], shape[3])

    def swap(layer):
        if (
            type(layer).__name__ == "MaxPooling2D"
            and layer.padding == "valid"
            and layer.data_format == "channels_last"
            and tuple(layer.strides) == tuple(layer.pool_size)
        ):
            return PoolByReshape(tuple(layer.pool_size), name=layer.name)
        return layer  # the same layer: its weights are shared, not copied

    return keras.models.clone_model(model, clone_function=swap, recursive=True)


def _write_onnx(run: Any, folder: Path) -> dict[str, Any]:
    model = _onnx_ready(run.model)
    x, arrays = sample_inputs(run)
    model(x)  # a loaded model has never been called, which export() requires
    path = folder / MODEL_FILES["onnx"]
    model.export(str(path), format="onnx", verbose=False)
    info: dict[str, Any] = {"verified": False}
    if importlib.util.find_spec("onnxruntime") is None:
        info["note"] = "not verified: onnxruntime is not installed (pip install onnxruntime)"
        return info
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feed = {name: arrays[name] for name in names if name in arrays}
    if len(feed) != len(names):  # names differ from the Keras input names: feed in the model's input order
        feed = dict(zip(names, arrays.values(), strict=True))
    onnx_out = np.asarray(session.run(None, feed)[0])
    keras_out = np.asarray(run.model.predict(x, verbose=0))  # the run's own model, not the rewritten copy
    diff = float(np.max(np.abs(onnx_out.reshape(keras_out.shape) - keras_out)))
    info.update(
        verified=diff <= VERIFY_TOLERANCE,
        max_abs_difference=diff,
        rows=VERIFY_ROWS,
        onnxruntime=ort.__version__,
        inputs=[{"name": i.name, "shape": [str(d) for d in i.shape], "type": i.type} for i in session.get_inputs()],
    )
    if diff > VERIFY_TOLERANCE:
        raise DeepwiseError(
            f"The ONNX file differs from the Keras model by up to {diff:.3g} on {VERIFY_ROWS} sample inputs.",
            expected=f"agreement within {VERIFY_TOLERANCE:g}",
            fix="export with --format keras, and report this with `deepwise doctor` output.",
        )
    return info


def _write_saved_model(run: Any, folder: Path) -> dict[str, Any]:
    model = run.model
    x, _ = sample_inputs(run, n=2)
    model(x)
    model.export(str(folder / MODEL_FILES["saved_model"]), format="tf_saved_model", verbose=False)
    return {"verified": False, "note": "load with tf.saved_model.load(path).serve(inputs)"}


SCRIPT_README = """# deepwise export (script)

`train.py` is the run `{run}` written as a plain Python script: Keras, NumPy, pandas, scikit-learn (and Pillow
for images) only, no deepwise. It reads `{data}`, makes the same train / validation / test split, fits the same
preprocessing on the training examples, builds and trains the same network, and prints its test score next to the
run's:

    python train.py

Read it top to bottom: each step says what it does and links to the Keras documentation of the layer, loss,
optimizer or callback it uses. Change it freely: it is yours. (Edit `DATA` at the top if the data has moved.)
"""

README = """# deepwise export ({fmt})

Exported from the run `{run}` (task: {task}, target: '{target}').

- `{model_file}`: the network. {preprocessing}
- `export.json`: inputs, outputs, classes, and how the export was checked.

Output: {output}
"""


def export(run_path: str | Path, fmt: str = "keras", output: str | Path | None = None, force: bool = False) -> Path:
    """Export the model of a complete run; returns the folder written (default ``RUN/export/<format>``).

    Example:
        >>> export("runs/penguins-20260101-120000", "keras", output="penguins-model")
        PosixPath('penguins-model')
    """
    check_format(fmt)
    run = load_run(run_path)
    script = run.kind.keras_script(run) if fmt == "script" else None  # raises before any folder is made
    folder = Path(output) if output is not None else run.path / "export" / fmt
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        if not force:
            raise DeepwiseError(
                f"'{folder}' already exists; deepwise does not overwrite it.",
                expected="a path that does not exist yet (or an empty folder)",
                fix="pass another output folder (-o; Python: output=), or --force (force=True) to replace it.",
            )
    if not folder.parent.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if script is not None:
            _write_script(run, script, tmp)
        else:
            _write_model(run, fmt, tmp)
        if folder.exists():
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write_script(run: Run, script: str, folder: Path) -> None:
    """train.py (the run as plain Keras, written by the run's kind: ``DataKind.keras_script``), its README and
    export.json."""
    atomic_write_text(folder / "train.py", script)
    meta = {
        "format": "script",
        "model_file": "train.py",
        "run": str(run.path),
        "task": run.task,
        "target": run.config.problem.target,
        "check": {"verified": False, "note": "run `python train.py`: it prints its test score next to the run's"},
        "versions": run.manifest.get("versions", {}),
    }
    write_json(folder / "export.json", meta)
    atomic_write_text(folder / "README.md", SCRIPT_README.format(run=run.path, data=run.config.data.path))


def _write_model(run: Run, fmt: str, tmp: Path) -> None:
    """The model file in ``fmt``, preprocessing.json, export.json and a README, into ``tmp``."""
    shutil.copy2(run.path / PREPROCESSING, tmp / PREPROCESSING)
    if fmt == "keras":
        _ = run.model  # loaded in safe mode first: a model file with code in it is not shipped on unnoticed
        shutil.copy2(run.path / MODEL, tmp / MODEL_FILES["keras"])
        check: dict[str, Any] = {"verified": True, "note": "an exact copy of the run's model.keras"}
    elif fmt == "onnx":
        check = _write_onnx(run, tmp)
    else:
        check = _write_saved_model(run, tmp)
    prep = run.preprocessor
    specs = {k: {"shape": [None, *v["shape"]], "dtype": v["dtype"]} for k, v in prep.input_specs().items()}
    if run.output == "regression":
        output_text = "one number per row: the prediction, in the target's units"
    elif run.output == "binary":
        output_text = f"one probability per row: P({prep.classes_[1]}); the other class is {prep.classes_[0]}"
    else:
        output_text = "one probability per class per row, in the order of `classes`"
    meta = {
        "format": fmt,
        "model_file": MODEL_FILES[fmt],
        "run": str(run.path),
        "task": run.task,
        "target": run.config.problem.target,
        "classes": prep.classes_,
        "inputs": specs,
        "feature_names": getattr(prep, "feature_names_", None),  # the columns behind the inputs, if named
        "output": output_text,
        "check": check,
        "versions": run.manifest.get("versions", {}),
    }
    write_json(tmp / "export.json", meta)
    inputs = ", ".join(f"`{k}` {v['dtype']} {v['shape']}" for k, v in specs.items())
    atomic_write_text(
        tmp / "README.md",
        README.format(
            fmt=fmt,
            run=run.path,
            task=run.task,
            target=run.config.problem.target,
            model_file=MODEL_FILES[fmt],
            preprocessing=run.kind.export_input_text(inputs),
            output=output_text,
        ),
    )


def describe(folder: str | Path) -> dict[str, Any]:
    """The export.json of an exported folder."""
    return json.loads((Path(folder) / "export.json").read_text(encoding="utf-8"))
