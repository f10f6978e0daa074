"""Training end to end on CPU: two optimizer steps, checkpoints, resume, and the `train` command.

The target-language captions are the test's word-substitution STAND-IN (backend="test"), not real
translations; these tests check the machinery, not retrieval quality.
"""

import pytest
import torch
from typer.testing import CliRunner

from tests.support.bi_irra_micro import MICRO
from tests.support.bi_irra_sample import build_workspace
from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra import config as configs
from tipr_bench.baselines.bi_irra.train import TrainOptions, train
from tipr_bench.cli import app
from tipr_bench.core.errors import UserError


@pytest.fixture()
def micro_config(monkeypatch):
    monkeypatch.setitem(configs.CONFIGS, "micro", MICRO.with_overrides(sp_vocab_size=120, epochs=2))
    torch.set_num_threads(1)


@pytest.mark.slow
def test_two_training_steps_write_checkpoints_and_resume(tmp_path, micro_config):
    ws = build_workspace(tmp_path, persons=10)
    before = ckpt.run_dir(ws.root, "zh", "synth", "micro")
    opts = TrainOptions(lang="zh", config="micro", device="cpu", progress=False, test=False, max_steps=2,
                        epochs=1, batch_size=6, comet=True)
    result = train(ws, opts)
    try:
        import comet_ml  # noqa: F401
    except ImportError:  # the optional tracking extra is absent: the run goes on and says so
        assert any("comet-ml is not installed" in note for note in result.notes)
    assert result.best == before / "best.pt" and result.best.is_file() and result.last.is_file()
    state = ckpt.load(result.last)  # stopped inside the epoch: last.pt keeps the place
    assert state["schedule"]["step_count"] == 2 and state["epoch"] == 0 and state["batches_done"] == 2
    log = result.epochs[0]
    assert set(log.parts) == {"itc", "itm", "mlm", "mim"} and all(v == v for v in log.parts.values())
    assert 0.0 <= log.val["R1"] <= 100.0 and log.val["chance_R1"] > 0

    resumed = train(ws, TrainOptions(lang="zh", config="micro", device="cpu", progress=False, test=False,
                                     resume=True, epochs=2))
    assert [e.epoch for e in resumed.epochs] == [1, 2]
    assert any("in epoch 1 after 2 of" in note for note in resumed.notes), resumed.notes
    assert ckpt.load(resumed.last)["epoch"] == 1


def test_bad_requests_are_one_line_user_errors(tmp_path, micro_config):
    ws = build_workspace(tmp_path, persons=5)
    with pytest.raises(UserError, match="--lang en"):
        train(ws, TrainOptions(lang="en", config="micro"))
    with pytest.raises(UserError, match="has fr translations"):
        train(ws, TrainOptions(lang="fr", config="micro"))
    with pytest.raises(UserError, match="no usable fr translations for synth/train"):
        train(ws, TrainOptions(lang="fr", config="micro", dataset="synth"))
    with pytest.raises(UserError, match="no .* yet"):
        train(ws, TrainOptions(lang="zh", config="micro", resume=True, device="cpu"))
    with pytest.raises(UserError, match="unknown bi-irra config"):
        train(ws, TrainOptions(lang="zh", config="huge", device="cpu"))
    with pytest.raises(UserError, match="--select-on best: use val"):
        train(ws, TrainOptions(lang="zh", config="micro", select_on="best"))
    with pytest.raises(UserError, match="--batch-size 1 is global"):
        train(ws, TrainOptions(lang="zh", config="micro", batch_size=1, device="cpu"))
    with pytest.raises(UserError, match="augment 'flip' is not one of reference, irra"):
        train(ws, TrainOptions(lang="zh", config="micro", settings={"augment": "flip"}, device="cpu"))
    with pytest.raises(UserError, match="--set epochs=...: epochs has its own option; pass --epochs"):
        TrainOptions(lang="zh", config="micro", settings={"epochs": 3})
    with pytest.raises(UserError, match="--lang en"):
        TrainOptions(lang=" EN ", config="micro")
    assert TrainOptions(lang="CH", config="micro").lang == "zh"  # normalised once, where the options are checked


@pytest.mark.slow
def test_train_command_prints_epochs_test_scores_and_the_best_path_last(tmp_path, micro_config):
    ws = build_workspace(tmp_path, persons=10)
    ws.close()
    result = CliRunner().invoke(app, ["train", "--model", "bi-irra", "--lang", "zh", "--config", "micro",
                                      "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--threads", "1",
                                      "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(line.startswith("epoch 1:") and "chance" in line for line in lines)
    assert any(line.startswith("test zh queries: R@1") for line in lines)
    assert lines[-1].endswith("best.pt") and (tmp_path / "ws" / "checkpoints" / "bi-irra" / "zh").is_dir()


@pytest.mark.slow
def test_without_a_val_split_the_epoch_lines_say_test(tmp_path, micro_config):
    """The published files have train and test only: the epoch is then chosen on test, and labelled so."""
    build_workspace(tmp_path, persons=10, val=False).close()
    result = CliRunner().invoke(app, ["train", "--model", "bi-irra", "--lang", "zh", "--config", "micro",
                                      "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--threads", "1",
                                      "--max-steps", "1", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    epoch_line = next(line for line in result.output.splitlines() if line.startswith("epoch 1:"))
    assert "test R@1" in epoch_line and "val R@1" not in result.output
