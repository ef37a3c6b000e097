"""FLOPs of a training step counted from the layers (6 x weights x examples for dense layers, x positions for
convolutions), and the GPU estimate's arithmetic and its 'worth it' rule."""

from __future__ import annotations

import pytest

from deepwise.backend import keras_module
from deepwise.training.resources import GPU_FLOPS, GPU_STEP_FLOOR_S, gpu_estimate, training_flops


def test_dense_and_conv_flops_are_counted_per_weight_and_position():
    keras = keras_module()
    layers = keras.layers
    mlp = keras.Sequential([keras.Input((10,)), layers.Dense(64), layers.Dropout(0.1), layers.Dense(3)])
    assert training_flops(mlp, 32) == 6 * 32 * (10 * 64 + 64 * 3)  # biases are adds, not multiply-adds
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                            keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(2)])  # fmt: skip
    assert training_flops(cnn, 1) == 6 * (3 * 3 * 1 * 4 * 64 + 4 * 4 * 4 * 2)


def test_a_gpu_is_worth_it_only_for_long_arithmetic_bound_runs():
    small = gpu_estimate(1e6, cpu_step_s=0.002, steps=10, epochs=100)
    assert small["gpu_step_s"] == pytest.approx(1e6 / GPU_FLOPS + GPU_STEP_FLOOR_S) and not small["worth_it"]
    assert small["gpu_bound_by"].startswith("the per-step overhead")
    big = gpu_estimate(5e11, cpu_step_s=5.0, steps=200, epochs=20)  # a CNN step of 0.5 TFLOP: 5 s on a CPU
    assert big["worth_it"] and big["gpu_bound_by"] == "arithmetic" and big["speedup"] > 20


def test_doctor_says_when_a_gpu_is_there_but_jax_does_not_use_it():
    from deepwise.doctor import gpu_check

    gpu = ["GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-1)"]
    problem = gpu_check("jax", ["TFRT_CPU_0"], gpus=gpu)
    assert problem and "RTX 3060" in problem and 'pip install -U "jax[cuda12]"' in problem
    assert gpu_check("jax", ["cuda:0"], gpus=gpu) is None  # JAX uses it
    assert gpu_check("jax", ["TFRT_CPU_0"], gpus=[]) is None  # no GPU: nothing to say
