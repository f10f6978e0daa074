"""Model and training settings for Bi-IRRA: the published `base` recipe and a CPU-sized `tiny` one.

`base` follows the paper and its public config (BEiT-v2-base 224x224 patch 16, XLM-R-base 12 layers
+ 6 fusion layers, ITC dim 256, temperature 0.07, loss weights 4/4, AdamW 5e-5 with 1-epoch warm-up
from 1e-6 and cosine to 5e-6, weight decay 0.02, 10 epochs, batch 32). `tiny` keeps every part of
the method but shrinks widths and depths so a run on the bundled sample finishes on two CPU cores in
a few minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from tipr_bench.benchmark.errors import UserError


@dataclass(frozen=True)
class BiIrraConfig:
    name: str = "base"
    # vision tower (BEiT-v2 layout)
    image_size: tuple[int, int] = (224, 224)  # (height, width)
    patch_size: int = 16
    vision_width: int = 768
    vision_layers: int = 12
    vision_heads: int = 12
    vision_mlp_ratio: float = 4.0
    vision_abs_pos: bool = False  # BEiT-v2 uses relative position bias only; tiny adds absolute too
    layer_scale_init: float = 0.1
    drop_path: float = 0.1
    # text tower (XLM-R layout) and fusion layers
    vocab_size: int = 250002
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    text_ffn: int = 3072
    fusion_layers: int = 6
    dropout: float = 0.1  # text and fusion layers (XLM-R's default)
    max_text_len: int = 77
    max_positions: int = 514  # XLM-R's position table (positions start after the pad id)
    # heads and losses
    embed_dim: int = 256
    temperature: float = 0.07
    itm_weight: float = 4.0
    mim_weight: float = 4.0
    mlm_prob: float = 0.4
    mlm_max_masks: int = 12
    mlm_skipgram_prob: float = 0.2
    mlm_skipgram_size: int = 3
    image_mask_ratio: float = 0.5
    # optimisation
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-5
    lr_start: float = 1e-6
    lr_end: float = 5e-6
    warmup_epochs: float = 1.0
    weight_decay: float = 0.02
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    # data
    sp_vocab_size: int = 8000  # only used when no XLM-R folder is given
    cache_images: bool = False  # keep decoded, resized images in memory (small datasets only)
    eval_batch_size: int = 128
    val_rerank_k: int = 0  # per-epoch validation re-ranks this many candidates with ITM (0 = ITC only)

    def __post_init__(self) -> None:
        if self.vision_width != self.text_width:
            # D-MIM runs the fusion layers with image tokens as queries, so both widths must match.
            raise UserError(
                f"bi-irra config {self.name!r}: vision_width {self.vision_width} != text_width "
                f"{self.text_width}; set them equal (D-MIM feeds image tokens through the fusion layers)"
            )
        h, w = self.image_size
        if h % self.patch_size or w % self.patch_size:
            raise UserError(
                f"bi-irra config {self.name!r}: image_size {self.image_size} is not a multiple of "
                f"patch_size {self.patch_size}; pick sizes divisible by the patch size"
            )

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BiIrraConfig:
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)

    def with_overrides(self, **overrides) -> BiIrraConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


BASE = BiIrraConfig()

TINY = BiIrraConfig(
    name="tiny",
    image_size=(96, 32),
    patch_size=8,
    vision_width=96,
    vision_layers=2,
    vision_heads=4,
    vision_mlp_ratio=2.0,
    vision_abs_pos=True,
    drop_path=0.0,
    vocab_size=2000,
    text_width=96,
    text_layers=2,
    text_heads=4,
    text_ffn=192,
    fusion_layers=2,
    dropout=0.0,
    max_text_len=64,
    max_positions=68,
    embed_dim=96,
    epochs=12,
    batch_size=16,
    lr=2e-3,
    lr_start=1e-5,
    lr_end=1e-4,
    warmup_epochs=1.0,
    sp_vocab_size=2000,
    cache_images=True,
    eval_batch_size=256,
    val_rerank_k=0,
)

CONFIGS: dict[str, BiIrraConfig] = {"base": BASE, "tiny": TINY}


def get_config(name: str) -> BiIrraConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise UserError(f"unknown bi-irra config {name!r}; use one of: {', '.join(CONFIGS)}") from None


__all__ = ["BASE", "CONFIGS", "TINY", "BiIrraConfig", "get_config"]
