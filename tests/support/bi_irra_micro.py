"""A micro Bi-IRRA config for fast unit tests: every part of the model, tiny widths."""

from __future__ import annotations

from tipr_bench.baselines.bi_irra.config import TINY, BiIrraConfig

MICRO: BiIrraConfig = TINY.with_overrides(
    name="micro", image_size=(32, 16), patch_size=8, vision_width=32, vision_layers=2, vision_heads=2,
    vocab_size=60, text_width=32, text_layers=2, text_heads=2, text_ffn=64, fusion_layers=2, max_text_len=16,
    max_positions=20, embed_dim=16, batch_size=4, eval_batch_size=8,
)
