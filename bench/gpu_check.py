"""One GPU check for Bi-IRRA, sized for well under 10 minutes of GPU time; prints one JSON line per part.

1. training: the base config (random init, bf16 autocast, one process) at the reference's global batch
   of 128 (four reference ranks of 32 inside the process: rank_batch), images/s and peak GiB over 20
   optimizer steps of the full bilingual objective, next to an IRRA-style reference model trained in
   the same run (ViT-B/16 + a 12-layer text transformer, ITC only), which is what single-objective
   retrieval models of this size cost; a batch that does not fit prints an out-of-memory row;
2. evaluation in fp32 (the reference's) and under bf16 autocast (eval_precision=bf16): seconds for
   the same queries x gallery with ITM re-ranking of the top 256, and how many queries' top-1 image
   and R@1 hit differ between the two (random weights: near-ties everywhere, so an upper bound);
3. ranking at ICFG-PEDES size (19,848 captions x 19,848 images) with the retrieval metrics on the GPU;
4. the transformers translate backend on cuda with a tiny random causal LM (loads, decodes, returns text).

    python bench/gpu_check.py                 # on a GPU: the whole check
    python bench/gpu_check.py --cpu-smoke     # without one: the same code paths at CPU size (tiny config,
                                              # 3 steps, a 64 x 64 evaluation, 2,000 x 2,000 ranking, the
                                              # LM on cpu)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support holds the tiny LM builder


def _synthetic_batch(cfg, batch: int, device: torch.device):
    from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
    from tipr_bench.baselines.bi_irra.model import TrainBatch

    rng = random.Random(0)
    length = min(48, cfg.max_text_len)  # a CUHK-PEDES caption is ~ 48 XLM-R tokens
    ids = torch.randint(5, cfg.vocab_size - 1, (batch, length))
    ids[:, 0], ids[:, -1] = 0, 2
    att = torch.ones_like(ids)
    m = [mask_tokens(r.tolist(), special_ids={0, 1, 2}, mask_id=cfg.vocab_size - 1, vocab_size=cfg.vocab_size,
                     rng=rng, mask_eos=True) for r in ids]
    pos, lab, mid = (torch.stack([getattr(x, f) for x in m]) for f in ("positions", "labels", "ids"))
    mask = blockwise_mask(cfg.grid, cfg.image_mask_ratio, rng).expand(batch, -1).clone()
    return TrainBatch(images=torch.randn(batch, 3, *cfg.image_size), patch_mask=mask, pids=torch.arange(batch),
                      en_ids=ids, en_att=att, tg_ids=ids.flip(1), tg_att=att, en_mlm_ids=mid, en_mlm_pos=pos,
                      en_mlm_labels=lab, tg_mlm_ids=mid, tg_mlm_pos=pos, tg_mlm_labels=lab).to(device)


class IrraStyle(nn.Module):
    """The reference point: ViT-B/16 (the Bi-IRRA vision tower) + a 12-layer, 512-wide text transformer
    (CLIP's text tower size, as IRRA uses), ITC only."""

    def __init__(self, cfg):
        super().__init__()
        from tipr_bench.baselines.bi_irra.vision_tower import VisionTransformer

        self.vision = VisionTransformer(cfg.image_size, cfg.patch_size, cfg.vision_width, cfg.vision_layers,
                                        cfg.vision_heads)
        self.embed = nn.Embedding(49408, 512)
        layer = nn.TransformerEncoderLayer(512, 8, 2048, batch_first=True, norm_first=True)
        self.text = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
        self.vproj, self.tproj = nn.Linear(cfg.vision_width, 512), nn.Linear(512, 512)

    def forward(self, batch) -> dict[str, torch.Tensor]:
        from tipr_bench.baselines.bi_irra.losses import itc_loss

        image = nn.functional.normalize(self.vproj(self.vision(batch.images)[:, 0]).float(), dim=-1)
        text = nn.functional.normalize(self.tproj(self.text(self.embed(batch.en_ids % 49408))[:, 0]).float(), dim=-1)
        return {"loss": itc_loss(image, text, 0.02, batch.pids)}


def train_speed(config_name: str, batch: int, steps: int, warmup: int, device: torch.device) -> list[dict]:
    from tipr_bench.baselines.bi_irra.config import get_config
    from tipr_bench.baselines.bi_irra.model import BiIRRA
    from tipr_bench.baselines.bi_irra.optimizer import param_groups

    cfg = get_config(config_name)
    data = _synthetic_batch(cfg, batch, device)
    out = []
    models = (("bi-irra " + config_name, lambda: BiIRRA(cfg)), ("irra-style itc-only", lambda: IrraStyle(cfg)))
    for name, build in models:
        torch.manual_seed(0)
        model = build().to(device).train()
        opt = torch.optim.AdamW(param_groups(model, 0.02), lr=1e-5)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            for i in range(warmup + steps):
                if i == warmup:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    loss = model(data)["loss"]
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        except torch.OutOfMemoryError:
            out.append({"part": "train", "model": name, "batch": batch, "error": "out of memory"})
            del model, opt
            torch.cuda.empty_cache()
            continue
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        out.append({"part": "train", "model": name, "batch": batch, "steps": steps, "images_per_s":
                    round(batch * steps / seconds, 1), "peak_gib": None if peak is None else round(peak, 2),
                    "final_loss": round(loss.item(), 3)})
        del model, opt
    return out


def eval_precision(config_name: str, queries: int, gallery: int, k: int, device: torch.device) -> list[dict]:
    """The same scoring in fp32 and under bf16 autocast: time, and the queries whose top-1 moves."""
    from tipr_bench.baselines.bi_irra import inference
    from tipr_bench.baselines.bi_irra.config import get_config
    from tipr_bench.baselines.bi_irra.model import BiIRRA
    from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer

    rng = random.Random(0)
    colours, things = ["red", "blue", "black", "white", "grey", "green"], ["shirt", "coat", "pants", "bag", "shoes"]
    texts = [" ".join(f"a {rng.choice(colours)} {rng.choice(things)}" for _ in range(6)) for _ in range(queries)]
    tokenizer = Tokenizer.train(texts, 200)
    cfg = get_config(config_name)
    torch.manual_seed(0)
    model = BiIRRA(cfg).place(device).eval()
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(gallery, 3, *cfg.image_size, generator=gen)
    gallery_pids = torch.arange(gallery) // 4
    query_pids = torch.randint(0, gallery // 4, (queries,), generator=gen)
    rows, top1 = [], {}
    for precision in ("fp32", "bf16"):
        config = cfg.with_overrides(eval_precision=precision)
        lm = inference.LoadedModel(model, tokenizer, config, "zh", Path("none"), "")
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            tokens, feats = [], []
            for start in range(0, gallery, cfg.eval_batch_size):
                with inference._autocast(device, config):
                    t = model.encode_image(images[start:start + cfg.eval_batch_size].to(device))
                tokens.append(t)
                feats.append(model.image_features(t))
            sim = inference.score_texts(lm, texts, True, torch.cat(tokens), torch.cat(feats), device, k)
        if device.type == "cuda":
            torch.cuda.synchronize()
        top1[precision] = sim.argmax(dim=1)
        rows.append({"part": "eval", "precision": precision, "queries": queries, "gallery": gallery, "rerank_k": k,
                     "seconds": round(time.perf_counter() - t0, 2)})
    hits = {p: gallery_pids[t] == query_pids for p, t in top1.items()}
    rows.append({"part": "eval fp32 vs bf16", "top1_differ": int((top1["fp32"] != top1["bf16"]).sum()),
                 "r1_hits_differ": int((hits["fp32"] != hits["bf16"]).sum()), "queries": queries,
                 "weights": "random (near-ties everywhere: an upper bound)"})
    return rows


def ranking(n: int, device: torch.device) -> dict:
    from tipr_bench.baselines.metrics import retrieval_metrics

    gen = torch.Generator().manual_seed(0)
    pids = torch.randint(0, n // 4, (n,), generator=gen)
    sim = torch.randn(n, n, generator=gen).to(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    m = retrieval_metrics(sim, pids, pids, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"part": "ranking", "size": f"{n} x {n}", "seconds": round(time.perf_counter() - t0, 3),
            "R1": round(m["R1"], 3), "mAP": round(m["mAP"], 3)}


def translate_backend(device: str) -> dict:
    from tests.support.translate_local_models import CHAT_TEMPLATE, save_causal
    from tipr_bench.translate import build_backend
    from tipr_bench.translate.backends.base import DecodingParams
    from tipr_bench.translate.options import BackendOptions

    with tempfile.TemporaryDirectory() as tmp:
        folder = save_causal(Path(tmp) / "lm", chat_template=CHAT_TEMPLATE)
        t0 = time.perf_counter()
        backend = build_backend(BackendOptions(backend="transformers", model=str(folder), device=device, batch_size=8))
        loaded = time.perf_counter() - t0
        conversations = [[{"role": "user", "content": f"Translate: a man in a red coat number {i}"}] for i in range(16)]
        t0 = time.perf_counter()
        done = backend.complete_batch(conversations, DecodingParams(max_tokens=32))
        return {"part": "translate", "device": str(backend.device), "dtype": str(backend.dtype),
                "load_s": round(loaded, 2), "generate_s": round(time.perf_counter() - t0, 2),
                "answers": len(done), "tokens_out": sum(c.tokens_out for c in done)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-smoke", action="store_true", help="run every part at CPU size")
    args = ap.parse_args()
    if args.cpu_smoke:
        torch.set_num_threads(2)
        device, parts = torch.device("cpu"), [("tiny", 16, 3, 1), ("tiny", 64, 64, 16), 2000, "cpu"]
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --cpu-smoke, or on a GPU")
        device, parts = torch.device("cuda"), [("base", 128, 20, 3), ("base", 500, 1000, 256), 19848, "cuda"]
        print(json.dumps({"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}), flush=True)
    (config_name, batch, steps, warmup), (eval_config, queries, gallery, k), n, lm_device = parts
    for row in train_speed(config_name, batch, steps, warmup, device):
        print(json.dumps(row), flush=True)
    for row in eval_precision(eval_config, queries, gallery, k, device):
        print(json.dumps(row), flush=True)
    print(json.dumps(ranking(n, device)), flush=True)
    print(json.dumps(translate_backend(lm_device)), flush=True)


if __name__ == "__main__":
    main()
