"""Checkpoint round trip, discovery of the best checkpoint, and the learning-rate schedule."""

import os

import pytest
import torch

from tests.support.bi_irra_micro import MICRO
from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.inference import load_model
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.schedule import WarmupCosine, lr_at
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.errors import UserError


def test_model_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    tokenizer = Tokenizer.train(["a man in a red shirt", "一个穿红色衬衫的男人", "a woman with a bag"] * 20, 40)
    config = MICRO.with_overrides(vocab_size=tokenizer.vocab_size)
    model = BiIRRA(config).eval()
    path = tmp_path / "checkpoints" / "bi-irra" / "zh" / "synth-micro" / "best.pt"
    ckpt.save(path, {"model_name": ckpt.MODEL, "lang": "zh", "config": config.to_dict(),
                     "tokenizer": tokenizer.spec(), "model": model.state_dict()})
    loaded = load_model(path, torch.device("cpu"))
    images = torch.randn(2, 3, *config.image_size)
    assert torch.equal(loaded.model.encode_image(images), model.encode_image(images))
    assert loaded.config == config and loaded.train_lang == "zh"
    assert loaded.tokenizer.ids("a red bag", 10) == tokenizer.ids("a red bag", 10)
    assert loaded.sha256 == sha256_file(path) and len(loaded.sha256) == 64
    assert not list(path.parent.glob("*.tmp"))


def test_loading_a_foreign_or_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        ckpt.load(tmp_path / "nope.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(UserError, match="not a bi-irra checkpoint"):
        ckpt.load(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read"):
        ckpt.load(junk)


def test_find_best_prefers_the_requested_language_then_the_newest(tmp_path):
    zh = ckpt.run_dir(tmp_path, "zh", "d", "tiny") / "best.pt"
    fr = ckpt.run_dir(tmp_path, "fr", "d", "tiny") / "best.pt"
    for path in (zh, fr):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    os.utime(zh, (1, 1))
    assert ckpt.find_best(tmp_path, "zh") == zh
    assert ckpt.find_best(tmp_path, "de") == fr
    assert ckpt.find_best(tmp_path / "empty", "zh") is None


def test_rng_state_round_trip():
    state = ckpt.rng_state()
    first = torch.rand(3)
    ckpt.set_rng_state(state)
    assert torch.equal(torch.rand(3), first)


def test_schedule_warms_up_linearly_then_follows_a_cosine_to_the_floor():
    args = dict(total=100, warmup=10, lr=5e-5, lr_start=1e-6, lr_end=5e-6)
    assert lr_at(0, **args) == pytest.approx(1e-6)
    assert lr_at(5, **args) == pytest.approx((1e-6 + 5e-5) / 2)
    assert lr_at(10, **args) == pytest.approx(5e-5)
    assert lr_at(55, **args) == pytest.approx((5e-5 + 5e-6) / 2)
    assert lr_at(100, **args) == pytest.approx(5e-6)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = WarmupCosine(optimizer, **args)
    for _ in range(10):
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-5)
    again = WarmupCosine(optimizer, **args)
    again.load_state_dict(schedule.state_dict())
    assert again.step_count == 10 and optimizer.param_groups[0]["lr"] == pytest.approx(5e-5)
