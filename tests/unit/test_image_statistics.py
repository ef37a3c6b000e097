"""The image guard's pixel-statistics part (issue 19): statistics of small arrays, the calibrated score, the reason
given, and guard.npz with and without it (a run saved before the part existed loads and scores as before)."""

from __future__ import annotations

import numpy as np

from deepwise.guard import InputStatistics, OODGuard
from deepwise.prepare.images import IMAGE_STATISTICS, IMAGE_STATISTICS_HINTS, image_statistics


def _strokes(n: int, seed: int) -> np.ndarray:
    """Digit-like images: a dark 12x12 background with two or three bright bars."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 20, (n, 12, 12, 3)).astype(np.float32).repeat(1, axis=-1)
    x[..., 1:] = x[..., :1]  # grey, stored with three channels
    for img in x:
        for _ in range(int(rng.integers(2, 4))):
            r, c = rng.integers(1, 9, 2)
            img[r : r + 3, c : c + 1] = img[r : r + 1, c : c + 3] = rng.uniform(200, 255)
    return x


def test_image_statistics_of_known_arrays():
    black, white = np.zeros((1, 8, 8, 1)), np.full((1, 8, 8, 1), 255.0)
    colour = np.zeros((1, 8, 8, 3))
    colour[..., 0] = 255  # pure red
    stats = dict(zip(IMAGE_STATISTICS, image_statistics(np.concatenate([black, white, black])).T, strict=True))
    assert list(stats["brightness"]) == [0, 255, 0] and list(stats["contrast"]) == [0, 0, 0]
    assert list(stats["dark pixels"]) == [1, 0, 1] and list(stats["bright pixels"]) == [0, 1, 0]
    assert list(stats["edge strength"]) == [0, 0, 0] and list(stats["colourfulness"]) == [0, 0, 0]
    assert image_statistics(colour)[0, list(IMAGE_STATISTICS).index("colourfulness")] == 255
    half = np.zeros((1, 8, 8)), np.zeros((1, 8, 8))
    half[1][:, :, 4:] = 255  # an edge down the middle: gradient and Laplacian, a 2-d array is read as grey
    assert image_statistics(half[1])[0, 5] > 0 and image_statistics(half[1])[0, 6] > 0


def test_pixel_part_flags_far_images_says_why_and_round_trips(tmp_path):
    train, validation, test = _strokes(400, 0), _strokes(200, 1), _strokes(200, 2)
    rng = np.random.default_rng(3)
    embed = {name: rng.normal(size=(len(x), 4)) for name, x in (("t", train), ("v", validation), ("s", test))}
    part = InputStatistics(
        image_statistics(train),
        image_statistics(validation),
        list(IMAGE_STATISTICS),
        list(IMAGE_STATISTICS.values()),
        kind="pixel statistics",
        hints=IMAGE_STATISTICS_HINTS,
    )
    guard = OODGuard(rate=0.01).fit_arrays(embed["t"], embed["v"], inputs=part, conformal=True)
    assert "pixel statistics" in guard.calibration_["space"] and guard.calibration_["threshold_rule"] != "quantile"
    bright = np.full((3, 12, 12, 3), 230.0)  # light grey pages
    tinted = _strokes(3, 4)
    tinted[..., 0] = np.minimum(tinted[..., 0] + 120, 255)  # the same strokes in colour
    far = np.concatenate([bright, tinted])
    far_stats = image_statistics(far)
    far_embed = rng.normal(size=(len(far), 4))  # an embedding like the training ones: only the pixels tell
    assert (guard.score_arrays(far_embed, inputs=far_stats) > 1).all()
    assert (guard.score_arrays(far_embed) <= 1).mean() > 0.5  # without the pixels most look ordinary
    test_rate = np.mean(guard.score_arrays(embed["s"], inputs=image_statistics(test)) > 1)
    assert test_rate <= 0.05  # 1 % targeted; 200 rows
    texts, counts = guard.reasons(guard.score_parts(far_embed, inputs=far_stats), far_stats)
    assert "brightness 230 (training images: " in texts[0]  # the border of a blank page: far above the digits'
    assert texts[3] == "colour image; the training images are greyscale" and counts["colourfulness"] == 3

    guard.save(tmp_path / "guard.npz")
    again = OODGuard.load(tmp_path / "guard.npz")
    assert np.allclose(again.score_arrays(far_embed, inputs=far_stats), guard.score_arrays(far_embed, inputs=far_stats))
    old = OODGuard(rate=0.01).fit_arrays(embed["t"], embed["v"])  # a guard as saved before issue 19
    old.save(tmp_path / "old.npz")
    loaded = OODGuard.load(tmp_path / "old.npz")
    assert loaded.inputs_ is None
    assert np.allclose(loaded.score_arrays(far_embed, inputs=far_stats), old.score_arrays(far_embed))
