"""What a training run costs, and whether a GPU would be worth it (the lesson's "computational resources" callout).

The work of one training step is counted from the network's layers (multiply-adds of dense, convolution, recurrent
and attention layers, times 2 for FLOPs, times 3 for the forward and backward passes): a standard estimate
(Kaplan et al. 2020 use the same 6 x parameters x examples rule for dense networks). The CPU's speed is the probe's
*measured* step time. A GPU's time per step is *estimated*, not measured on this machine: the FLOPs at an achieved
rate of a mid-range GPU on small networks (:data:`GPU_FLOPS`, about a fifth of a consumer GPU's FP32 peak), plus
:data:`GPU_STEP_FLOOR_S` a step (launching the step's kernels and copying the batch over). Small networks on
tables are bound by that overhead, which is why a GPU rarely helps them.

Example:
    >>> estimate = gpu_estimate(training_flops(model, batch_size=32), cpu_step_s=0.004, steps=100, epochs=200)
    >>> estimate["speedup"], estimate["worth_it"]
    (2.7, False)
"""

from __future__ import annotations

import math
from typing import Any

#: FLOP/s a mid-range GPU achieves on deepwise-sized networks (FP32; about a fifth of an RTX 3060's 13 TFLOP/s peak)
GPU_FLOPS = 2.5e12
#: the least time a GPU training step takes: kernel launches and the host-to-device copy of one batch
GPU_STEP_FLOOR_S = 1.5e-3
#: a GPU is worth setting up when it would save at least this many seconds of training and run 3x faster
WORTH_SECONDS, WORTH_SPEEDUP = 300.0, 3.0


RECURRENT = ("GRU", "LSTM", "SimpleRNN")


def _positions(shape: Any) -> int:
    """Spatial or time positions of a layer output ``[batch, ..., channels]`` (1 for a flat output)."""
    dims = [d for d in list(shape)[1:-1] if d is not None]
    return math.prod(dims) if dims else 1


def layer_macs(layer: Any) -> int:
    """Multiply-adds of one layer's forward pass for one example: every weight matrix (or convolution kernel) is used
    once per output position (once per time step for a recurrent layer); layers without weights cost ~0."""
    kind = type(layer).__name__
    if hasattr(layer, "layers") and kind not in RECURRENT:  # a nested model (a reused base)
        return sum(layer_macs(inner) for inner in layer.layers)
    if kind == "Embedding":
        return 0  # a lookup, not arithmetic
    per_position = sum(math.prod(w.shape) for w in layer.weights if len(w.shape) > 1)
    if not per_position:
        return 0
    try:
        shape = layer.input.shape if kind in RECURRENT else layer.output.shape
    except (AttributeError, ValueError):
        shape = (None, 1)
    return per_position * _positions(shape)


def on_cpu() -> bool:
    """True when the network trains on the CPU (the GPU estimate means nothing on a GPU)."""
    from deepwise.backend import keras_module

    if keras_module().backend.backend() != "jax":
        return True
    import jax

    return jax.default_backend() == "cpu"


def training_flops(model: Any, batch_size: int) -> float:
    """FLOPs of one training step: 2 FLOPs a multiply-add, 3 passes (forward, and a backward twice as costly)."""
    return 6.0 * batch_size * sum(layer_macs(layer) for layer in model.layers)


def gpu_estimate(flops_per_step: float, cpu_step_s: float, steps: int, epochs: int) -> dict[str, Any]:
    """The measured CPU time of the run next to an estimated GPU time, and whether a GPU is worth it."""
    arithmetic_s = flops_per_step / GPU_FLOPS
    gpu_step_s = arithmetic_s + GPU_STEP_FLOOR_S
    cpu_total, gpu_total = cpu_step_s * steps * epochs, gpu_step_s * steps * epochs
    speedup = cpu_step_s / gpu_step_s if gpu_step_s > 0 else float("inf")
    worth = cpu_total - gpu_total >= WORTH_SECONDS and speedup >= WORTH_SPEEDUP
    bound = "arithmetic" if arithmetic_s > GPU_STEP_FLOOR_S else "the per-step overhead (launches, copies)"
    return {
        "flops_per_step": flops_per_step,
        "cpu_step_s": cpu_step_s,
        "cpu_gflops_achieved": flops_per_step / cpu_step_s / 1e9 if cpu_step_s > 0 else None,
        "gpu_step_s": gpu_step_s,
        "speedup": round(speedup, 1),
        "cpu_total_s": cpu_total,
        "gpu_total_s": gpu_total,
        "gpu_bound_by": bound,
        "worth_it": worth,
        "assumptions": f"GPU at {GPU_FLOPS / 1e12:g} TFLOP/s achieved, plus {GPU_STEP_FLOOR_S * 1e3:g} ms a step",
    }


def describe_estimate(estimate: dict[str, Any]) -> str:
    """One console line: the GPU estimate and whether it is worth one."""
    verdict = (
        "worth a GPU (see the README's 'Using a GPU')"
        if estimate["worth_it"]
        else "a GPU would not be worth setting up for this run"
    )
    return (
        f"  On a GPU (estimated, {estimate['assumptions']}): ≈ {estimate['gpu_step_s'] * 1e3:.1f} ms per step, "
        f"{estimate['speedup']:g}x the CPU's ({estimate['flops_per_step'] / 1e6:,.1f} MFLOP a step, bound by "
        f"{estimate['gpu_bound_by']}); at most ≈ {estimate['gpu_total_s']:.0f} s instead of "
        f"{estimate['cpu_total_s']:.0f} s: {verdict}."
    )
