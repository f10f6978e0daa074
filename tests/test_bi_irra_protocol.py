"""The reference's training protocol at any process count (docs/FIDELITY.md, issue 25): ITC's weight
under DDP, the reference's per-GPU pool for hard negatives, image masks and loss means (virtual
ranks on fewer processes), and selection on test by the re-ranked R@1."""

from __future__ import annotations

import random
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tests.support import bi_irra_ddp as ddp
from tests.support.bi_irra_micro import MICRO
from tests.support.bi_irra_sample import build_workspace
from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra import config as configs
from tipr_bench.baselines.bi_irra import losses
from tipr_bench.baselines.bi_irra.config import BASE, TINY, get_config
from tipr_bench.baselines.bi_irra.data import collate
from tipr_bench.baselines.bi_irra.inference import load_model, score_loaded, scored_metrics
from tipr_bench.baselines.bi_irra.masking import mask_tokens
from tipr_bench.baselines.bi_irra.processes import check_global_batch
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.baselines.bi_irra.train import TrainOptions, train
from tipr_bench.core.errors import UserError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_itc_gradient_under_two_processes_follows_the_reference_and_one_process_reproduces_it(tmp_path):
    mp.start_processes(ddp.balance_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    ranks = [torch.load(tmp_path / f"balance{r}.pt", weights_only=False) for r in range(2)]
    torch.set_num_threads(1)
    batch = ddp.global_batch()
    # one process, the global batch of 8 as two virtual ranks of 4 (the per-process share above)
    virtual = ddp.balance_model(itc_balance="reference", rank_batch=4)
    one = ddp.itc_gradient_and_parts(virtual, virtual, batch)
    full = ddp.balance_model(itc_balance="full", rank_batch=4)
    whole = ddp.itc_gradient_and_parts(full, full, batch)

    ours, theirs = ranks[0]["ours"]["grad"], ranks[0]["reference"]["grad"]
    assert set(ours) == set(theirs) == set(one["grad"])
    for name, grad in theirs.items():  # the reference's formula, as DDP leaves it on every rank
        assert torch.allclose(ours[name], grad, atol=1e-7, rtol=1e-4), name
        assert torch.allclose(one["grad"][name], grad, atol=1e-7, rtol=1e-4), name
    # through the features ITC trains at 1/2 (1/world) of its full weight; the temperature in full
    assert torch.allclose(ours["vision_proj.weight"], whole["grad"]["vision_proj.weight"] / 2, atol=1e-7, rtol=1e-4)
    assert ours["temp"].abs().item() > 0
    assert torch.allclose(ours["temp"], whole["grad"]["temp"], rtol=1e-4)
    # MLM and D-MIM: the mean of each rank's own mean, in one process as on two
    for part in ("mlm", "mim"):
        mean = (ranks[0]["ours"]["parts"][part] + ranks[1]["ours"]["parts"][part]) / 2
        assert one["parts"][part] == pytest.approx(mean, abs=1e-5), part
    assert ranks[0]["ours"]["parts"]["itc"] == pytest.approx(one["parts"]["itc"], abs=1e-5)


def test_hard_negatives_stay_within_each_reference_rank():
    torch.manual_seed(0)
    feats = torch.nn.functional.normalize(torch.randn(8, 4), dim=-1)
    pids, groups = torch.arange(8), torch.arange(8) // 4
    for seed in range(30):
        gen = torch.Generator().manual_seed(seed)
        neg_image, neg_text = losses.sample_hard_negatives(feats, feats, 0.07, pids, gen, groups=groups)
        assert torch.equal(groups[neg_image], groups) and torch.equal(groups[neg_text], groups)
        assert not (neg_image == torch.arange(8)).any()
    # a group with one person only: the fallback is another sample of the same group
    lonely = torch.tensor([0, 0, 1, 2])
    neg_image, _ = losses.sample_hard_negatives(feats[:4], feats[:4], 0.07, lonely, groups=torch.tensor([0, 0, 1, 1]))
    assert neg_image[:2].tolist() == [1, 0]


def test_the_image_mask_is_drawn_once_per_reference_rank():
    tok = Tokenizer.train(["a man in a red shirt", "a woman in a blue coat"] * 10, 60)
    masks = [torch.tensor([bool(k >> b & 1) for b in range(6)]) for k in (5, 9, 17, 33, 12, 40)]  # all differ
    rng = random.Random(0)
    items = [{"image": torch.zeros(3, 4, 4), "patch_mask": masks[i], "pid": i, "en": [0, 5, 2], "tg": [0, 7, 2],
              "en_mlm": mask_tokens([0, 5, 2], special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=60,
                                    rng=rng, max_masks=4),
              "tg_mlm": mask_tokens([0, 7, 2], special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=60,
                                    rng=rng, max_masks=4)} for i in range(6)]
    grouped = collate(tok, 3)(items).patch_mask
    assert [torch.equal(grouped[k], masks[0 if k < 3 else 3]) for k in range(6)] == [True] * 6
    assert all(torch.equal(row, masks[0]) for row in collate(tok, 0)(items).patch_mask)
    assert all(torch.equal(row, masks[k]) for k, row in enumerate(collate(tok, None)(items).patch_mask))


def test_base_reproduces_four_gpus_of_32_and_says_when_a_share_cannot():
    assert (BASE.batch_size, BASE.rank_batch, BASE.itc_balance) == (128, 32, "reference")
    assert (TINY.rank_batch, TINY.itc_balance) == (0, "full")  # tipr-bench's CPU recipe keeps its own
    assert get_config("base", "ufinebench").rank_batch == 16  # config_UFine.yaml: 16 per GPU
    for world in (1, 2, 4):
        check_global_batch(128, world, 32)
    with pytest.raises(UserError, match="rank_batch 32.*--batch-size 256"):
        check_global_batch(128, 8, 32)  # 16 per process: a reference GPU's 32 would span two
    check_global_batch(128, 8, 16)


def test_selection_on_test_ranks_epochs_by_the_itm_re_ranked_scores(tmp_path, monkeypatch):
    monkeypatch.setitem(configs.CONFIGS, "micro", MICRO.with_overrides(epochs=1, batch_size=4, val_rerank_k=0))
    torch.set_num_threads(1)
    ws = build_workspace(tmp_path, persons=20)
    result = train(ws, TrainOptions(lang="zh", config="micro", device="cpu", progress=False, test=False, threads=1,
                                    select_on="test", test_rerank_k=2, settings={"rerank_score": "itm"}))
    assert result.selection == "test"
    chosen = result.epochs[0].val
    loaded, cpu = load_model(result.best, torch.device("cpu")), torch.device("cpu")

    def scored(lang: str, k: int) -> dict[str, float]:
        return scored_metrics(score_loaded(ws, loaded, dataset="synth", split="test", lang=lang, device=cpu, rerank_k=k,
                                    progress=False))

    re_ranked, itc_only = scored("zh", 2), scored("zh", 0)
    assert re_ranked != pytest.approx(itc_only)  # the two protocols tell apart on this model
    assert chosen["mAP"] == pytest.approx(re_ranked["mAP"]) and chosen["R1"] == pytest.approx(re_ranked["R1"])
    assert chosen["en_R1"] == pytest.approx(scored("en", 2)["R1"])


def test_training_runs_the_reference_ranks_inside_one_process(tmp_path, monkeypatch):
    monkeypatch.setitem(configs.CONFIGS, "micro", MICRO.with_overrides(epochs=1, batch_size=4))
    torch.set_num_threads(1)
    ws = build_workspace(tmp_path, persons=5)
    settings = {"rank_batch": 2, "itc_balance": "reference"}
    result = train(ws, TrainOptions(lang="zh", config="micro", device="cpu", progress=False, test=False, threads=1,
                                    max_steps=2, settings=settings))
    stored = configs.BiIrraConfig.from_dict(ckpt.load(result.last)["config"])
    assert (stored.rank_batch, stored.itc_balance) == (2, "reference")
    assert all(v == v for v in result.epochs[0].parts.values())  # every loss finite
    with pytest.raises(UserError, match="rank_batch 3"):
        train(ws, TrainOptions(lang="zh", config="micro", device="cpu", progress=False, test=False, threads=1,
                               max_steps=1, settings={"rank_batch": 3}))
