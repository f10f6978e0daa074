"""The demo's background training: a real spawned child process over a real workspace file.
(Its success path runs in test_demo.py, where training goes on beside refine.)"""

from __future__ import annotations

import pytest

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.demo_training import BackgroundTraining, TrainingJob, decode_threads


def test_a_failure_in_the_child_is_one_user_error_and_the_core_comes_back(tmp_path):
    Workspace.open(tmp_path / "ws").close()  # nothing ingested: training cannot start
    training = BackgroundTraining(TrainingJob(tmp_path / "ws", "zh", epochs=1, seed=0, threads=1))
    threads = decode_threads(training, all_threads=2)
    assert threads() == 1  # the child is still importing torch: one core stays with it
    with pytest.raises(UserError, match=r"^demo training failed: dataset 'cuhk-pedes' is not in workspace .*ingest"):
        training.result()
    assert not training.running() and threads() == 2


def test_stop_ends_the_child(tmp_path):
    Workspace.open(tmp_path / "ws").close()
    training = BackgroundTraining(TrainingJob(tmp_path / "ws", "zh", epochs=1, seed=0, threads=1))
    training.stop()
    assert not training.running() and training._process.exitcode is not None
    with pytest.raises(UserError, match="demo training failed: the training process exited with code"):
        training.result()
