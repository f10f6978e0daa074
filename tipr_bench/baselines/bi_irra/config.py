"""Model and training settings for Bi-IRRA: the published `base` recipe and a CPU-sized `tiny` one.

`base` follows the authors' code (config/config.yaml: BEiT-v2-base 224x224 patch 16, XLM-R-base 12
layers + 6 fusion layers, ITC dim 256, temperature 0.07, loss weights 4/4, AdamW 5e-5 with 1-epoch
warm-up from 1e-6 and cosine to 5e-6, weight decay 0.02, 10 epochs, 32 per GPU x 4 GPUs = a global
batch of 128). Where tipr-bench has another way of doing a step, both are named fields here and the
reference's is the default; docs/FIDELITY.md lists each with file and line on both sides. `tiny`
keeps every part of the method but shrinks widths and depths so a run on the bundled sample
finishes on two CPU cores in a few minutes.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields, replace

from tipr_bench.core.errors import UserError


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
    text_ln_eps: float = 1e-5  # the text tower's LayerNorm epsilon (xlm-roberta-base's config.json), in
    #                            training, inference and resume alike
    max_text_len: int = 77
    max_positions: int = 514  # XLM-R's position table
    # heads and losses
    position_ids: str = "zero"  # "zero": 0, 1, 2, ... (the reference's xbert, CCLM/X2-VLM weights);
    #                             "xlmr": pad_id + 1 onwards (Hugging Face XLM-R weights)
    attn_dropout: float = 0.1  # attention-probability dropout in the fusion layers (the reference's 0.1)
    embed_dim: int = 256
    temperature: float = 0.07
    temperature_clamp: bool = False  # keep the learned temperature in [0.001, 0.5] (the reference does not)
    itm_weight: float = 4.0
    mim_weight: float = 4.0
    mlm_prob: float = 0.4
    mlm_max_masks: int = 12
    mlm_skipgram_prob: float = 0.2
    mlm_skipgram_size: int = 3
    mlm_mask_eos: bool = True  # </s> may be masked, as in the reference
    image_mask_ratio: float = 0.5
    image_mask_per: str = "batch"  # "batch": one block mask per rank_batch group, i.e. per reference GPU forward
    #                                (the whole share with rank_batch 0); "sample": one per image
    # optimisation
    epochs: int = 10
    batch_size: int = 128  # global: split evenly over the processes (the reference: 32 x 4 GPUs)
    rank_batch: int = 32  # the reference's per-GPU batch: hard negatives, the image mask and the per-rank
    #                       loss means work within groups of this many, on any process count; 0 = each
    #                       process's whole share (the pool then depends on the process count)
    itc_balance: str = "reference"  # "reference": ITC's gradient through the features at 1/ranks, ranks =
    #                                 global batch / rank_batch (the reference's all-gather under DDP);
    #                                 "full": as one process holding the whole global batch
    drop_last: bool = True  # drop the epoch's last, smaller batch (the reference's DataLoader)
    lr: float = 5e-5
    lr_start: float = 1e-6
    lr_end: float = 5e-6
    warmup_epochs: float = 1.0
    weight_decay: float = 0.02
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    weight_decay_on: str = "reference"  # "reference": all but 0/1-d tensors and names with 'bias' (so not
    #                                     the relative position bias tables, but cls/mask tokens and the text
    #                                     position table); "matrices": weight matrices only
    # data
    augment: str = "reference"  # "reference": two of jitter/rotate/crop/gray/flip/erase, bilinear;
    #                             "irra": flip, pad-crop, erase, bicubic
    normalization: str = "imagenet"  # "imagenet" (the reference) or "clip"
    sp_vocab_size: int = 8000  # only used when no XLM-R folder is given
    cache_images: bool = False  # keep decoded, resized images in memory (small datasets only)
    eval_batch_size: int = 128
    val_rerank_k: int = 0  # per-epoch validation re-ranks this many candidates with ITM (0 = ITC only)
    eval_precision: str = "fp32"  # "fp32": evaluation (gallery, queries, ITM logits) in float32, as the
    #                               reference's cclm_test; "bf16": under bf16 autocast (faster; near-ties move)
    rerank_score: str = "itm"  # "itm": the top k get their ITM match logit, the rest -100 (reference);
    #                            "itc+itm": 3 + cosine + ITM probability for the top k, cosine for the rest

    def __post_init__(self) -> None:
        if self.vision_width != self.text_width:
            # D-MIM runs the fusion layers with image tokens as queries, so both widths must match.
            raise UserError(
                f"bi-irra config {self.name!r}: vision_width {self.vision_width} != text_width "
                f"{self.text_width}; set them equal (D-MIM feeds image tokens through the fusion layers)"
            )
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"bi-irra config {self.name!r}: {name} {getattr(self, name)!r} is not one of "
                                f"{', '.join(allowed)}")
        h, w = self.image_size
        if self.rank_batch < 0 or self.rank_batch == 1:
            raise UserError(f"bi-irra config {self.name!r}: rank_batch {self.rank_batch} must be 0 (each "
                            "process's share) or 2+ (ITM needs a negative within the group)")
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
        """A stored config; a field it lacks takes the value the code had before the field existed, so
        a checkpoint keeps behaving as it was trained."""
        known = {f.name for f in fields(cls)}
        values = {**BEFORE_FIELD, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}}
        return cls(**values)

    @classmethod
    def field_types(cls) -> dict[str, type]:
        """Settable fields (not name) and the type a `--set` value is read as."""
        return {f.name: type(f.default) for f in fields(cls) if f.name != "name" and f.default is not MISSING}

    def with_overrides(self, **overrides) -> BiIrraConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


CHOICES = {
    "position_ids": ("zero", "xlmr"),
    "image_mask_per": ("batch", "sample"),
    "weight_decay_on": ("reference", "matrices"),
    "augment": ("reference", "irra"),
    "normalization": ("imagenet", "clip"),
    "rerank_score": ("itm", "itc+itm"),
    "itc_balance": ("reference", "full"),
    "eval_precision": ("fp32", "bf16"),
}

# What the code did before each of these fields existed (checkpoints written then lack them).
BEFORE_FIELD = {
    "position_ids": "xlmr", "attn_dropout": 0.0, "temperature_clamp": True, "mlm_mask_eos": False,
    "image_mask_per": "sample", "drop_last": False, "weight_decay_on": "matrices", "augment": "irra",
    "normalization": "clip", "rerank_score": "itc+itm", "rank_batch": 0, "itc_balance": "full",
    "text_ln_eps": 1e-12,  # what a model rebuilt from its config got (training with --xlmr used 1e-5)
}

# The reference's per-dataset settings (config/config_UFine.yaml: 168 tokens, 16 per GPU x 4 GPUs).
DATASET_PRESETS = {"ufinebench": {"max_text_len": 168, "batch_size": 64, "rank_batch": 16}}

RERANK_K = 256  # test-time ITM re-ranking of each query's top k images (the reference's k_test)

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
    attn_dropout=0.0,
    max_text_len=64,
    max_positions=68,
    embed_dim=96,
    temperature_clamp=True,  # lr 2e-3 moves the learned temperature 100x faster than base's 5e-5
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
    rank_batch=0,  # tipr-bench's own CPU recipe: the process's whole share is one pool
    itc_balance="full",
    augment="irra",  # the reference's rotation and crops are sized for 224 px; tiny sees 96 x 32
    rerank_score="itc+itm",  # a small model from scratch has an unsure ITM head: keep the ITC order
)

CONFIGS: dict[str, BiIrraConfig] = {"base": BASE, "tiny": TINY}


def get_config(name: str, dataset: str | None = None) -> BiIrraConfig:
    """A named config; `base` takes the reference's settings for the dataset where it has its own."""
    try:
        config = CONFIGS[name]
    except KeyError:
        raise UserError(f"unknown bi-irra config {name!r}; use one of: {', '.join(CONFIGS)}") from None
    if name == "base" and dataset in DATASET_PRESETS:
        config = config.with_overrides(**DATASET_PRESETS[dataset])
    return config


def parse_settings(items: list[str]) -> dict:
    """`--set FIELD=VALUE` pairs, each value read as its field's type; one clear line for a bad one."""
    types = BiIrraConfig.field_types()
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in types:
            raise UserError(f"--set {item!r}: use FIELD=VALUE with a field of the bi-irra config "
                            f"({', '.join(sorted(types))})")
        kind = types[name]
        try:
            if kind is bool:
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                out[name] = raw.lower() in ("true", "1", "yes")
            elif kind is tuple:
                out[name] = tuple(float(x) if "." in x else int(x) for x in raw.split(","))
            else:
                out[name] = kind(raw)
        except ValueError:
            raise UserError(f"--set {item!r}: {name} takes a {kind.__name__}") from None
    return out


__all__ = ["BASE", "CONFIGS", "DATASET_PRESETS", "RERANK_K", "TINY", "BiIrraConfig", "get_config", "parse_settings"]
