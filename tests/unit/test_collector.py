"""The garbage collector set aside while deepwise trains: frozen on entry, restored on exit, never leaking."""

from __future__ import annotations

import gc
import weakref

import pytest

from deepwise.collector import YOUNG_THRESHOLD, set_aside, set_aside_imported


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


@pytest.fixture(autouse=True)
def clean_collector():
    gc.unfreeze()
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.enable()


def test_frozen_inside_restored_after():
    thresholds = gc.get_threshold()
    with set_aside():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == max(thresholds[0], YOUNG_THRESHOLD)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


def test_restored_when_the_block_raises():
    with pytest.raises(ValueError), set_aside():
        raise ValueError("boom")
    assert gc.get_freeze_count() == 0


def test_nested_blocks_unfreeze_once_at_the_outermost():
    with set_aside():
        with set_aside():
            pass
        assert gc.get_freeze_count() > 0  # the inner block did not unfreeze the outer one's objects
    assert gc.get_freeze_count() == 0


def test_garbage_among_the_set_aside_is_collected_after_the_block():
    node = Node()
    ref = weakref.ref(node)
    with set_aside():
        del node
        gc.collect()
        assert ref() is not None  # frozen: skipped by the collector while the block runs
    gc.collect()
    assert ref() is None  # back in the oldest generation: collected as before


def test_what_the_block_creates_is_collected_inside_it():
    with set_aside():
        node = Node()
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None


def test_imported_objects_join_only_inside_a_block():
    set_aside_imported()
    assert gc.get_freeze_count() == 0  # outside a block it does nothing
    with set_aside():
        node = Node()
        before = gc.get_freeze_count()
        set_aside_imported()
        assert gc.get_freeze_count() > before
        del node
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_is_left_alone():
    gc.freeze()
    frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
    with set_aside():
        set_aside_imported()
        assert gc.get_freeze_count() == frozen and gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == frozen


def test_a_disabled_collector_is_left_alone():
    gc.disable()
    with set_aside():
        assert gc.get_freeze_count() == 0
    assert not gc.isenabled()


def test_train_sets_the_libraries_aside_and_puts_them_back(tmp_path, diabetes_csv):
    import deepwise
    from deepwise.backend import keras_module

    seen = []

    class Watch(keras_module().callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))

    thresholds = gc.get_threshold()
    deepwise.train(
        {"problem": {"target": "target"}, "data": {"path": str(diabetes_csv)}, "training": {"epochs": 2}},
        runs_dir=tmp_path,
        verbose=False,
        callbacks=[Watch()],
    )
    assert seen and seen[0][0] > 100_000 and seen[0][1] == YOUNG_THRESHOLD  # Keras, JAX, pandas... set aside
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


def test_the_command_sets_every_object_aside_at_exit_once(monkeypatch):
    """The deepwise command registers one exit handler; at exit it freezes what is alive, so the interpreter's
    shutdown runs no full collection over the libraries (a process that turned the collector off is left alone)."""
    import atexit

    from deepwise import cli, collector

    registered: list = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(collector, "_exit_registered", False)
    monkeypatch.setattr(cli, "app", lambda: None)
    cli.main()
    cli.main()
    assert registered == [collector._freeze_at_exit]
    collector._freeze_at_exit()
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    gc.disable()
    collector._freeze_at_exit()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("command", [False, True])
def test_a_script_that_imports_deepwise_exits_as_python_makes_it(tmp_path, command):
    """A script's globals are freed by the collector at exit (its functions refer back to them): a file it left open
    is flushed, a cycle collected. The command's exit handler would skip both, so only the command registers it."""
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(
        "import deepwise\n"
        + ("deepwise.collector.skip_final_collections()\n" if command else "")
        + f"out = open({str(tmp_path / 'plain.txt')!r}, 'w')\n"
        "out.write('flushed at exit')\n"
        "class Cycle:\n"
        "    def __init__(self):\n"
        "        self.me = self\n"
        "    def __del__(self):\n"
        "        print('cycle collected')\n"
        "Cycle()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    flushed = (tmp_path / "plain.txt").read_text() == "flushed at exit"
    assert flushed is not command and ("cycle collected" in done.stdout) is not command
