"""Bilingual training pairs and image loading for Bi-IRRA, from the workspace (PIL + torch only).

A pair is one caption key: its image, the English caption and the target-language caption. Every
random choice for an item (augmentation, MLM masks, image mask) comes from a generator seeded by
(seed, epoch, index), so a run is reproducible whatever the number of loader workers, and a resumed
run sees the same data as an uninterrupted one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from tipr_bench.baselines.bi_irra.augment import RECIPES, TRAIN_RESAMPLE, normalize
from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
from tipr_bench.baselines.bi_irra.model import TrainBatch
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError

RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


@dataclass(frozen=True)
class Pair:
    key: str
    pid: int
    image: str  # absolute path
    en: str
    tg: str


@dataclass(frozen=True)
class Pairs:
    pairs: list[Pair]
    left_out: int  # captions of the split with no usable target-language text


def image_root(ws: Workspace, dataset: str) -> Path:
    info = ws.dataset(dataset)
    if info is None:
        raise UserError(f"dataset {dataset!r} is not in workspace {ws.root}; run `tipr-bench ingest` first")
    return Path(info.image_root)


def load_pairs(ws: Workspace, dataset: str, split: str, lang: str) -> Pairs:
    """English + target-language captions of the same keys; keys with no usable translation (none,
    failed, or empty) are left out and counted."""
    root = image_root(ws, dataset)
    captions = split_captions(ws, dataset, split, lang)
    if not captions.english:
        raise UserError(f"no {split} captions for {dataset!r} in {ws.root}; check --dataset or ingest the split")
    target = {c.key: c.text for c in captions.usable}
    pairs = [Pair(c.key, c.person_id, str(root / c.image_path), c.text, target[c.key])
             for c in captions.english if c.key in target]
    if not pairs:
        raise UserError(
            f"no usable {lang} translations for {dataset}/{split} in {ws.root}; "
            f"run `tipr-bench translate --lang {lang}` first"
        )
    return Pairs(pairs, captions.left_out)


def read_image(path: str, size: tuple[int, int], resample: str = "bicubic") -> torch.Tensor:
    """uint8 [3, H, W] at the model's size."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((size[1], size[0]), RESAMPLE[resample])
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read image {path}: {err}; check the dataset's image root") from None
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size[0], size[1], 3).permute(2, 0, 1)


def eval_image(path: str, config: BiIrraConfig) -> torch.Tensor:
    """A gallery image as both codes evaluate it: bicubic resize, then normalise."""
    return normalize(read_image(path, config.image_size, "bicubic"), config.normalization)


class ImageStore:
    """Reads images at the model's size; keeps them in memory when the config asks (small sets)."""

    def __init__(self, size: tuple[int, int], cache: bool, resample: str = "bicubic"):
        self.size, self.cache, self.resample = size, cache, resample
        self._images: dict[str, torch.Tensor] = {}

    def get(self, path: str) -> torch.Tensor:
        image = self._images.get(path)
        if image is None:
            image = read_image(path, self.size, self.resample)
            if self.cache:
                self._images[path] = image
        return image


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, pairs: list[Pair], tokenizer: Tokenizer, config: BiIrraConfig, seed: int):
        self.pairs, self.tokenizer, self.config, self.seed = pairs, tokenizer, config, seed
        self.images = ImageStore(config.image_size, config.cache_images, TRAIN_RESAMPLE[config.augment])
        self.recipe = RECIPES[config.augment]
        person_ids = sorted({p.pid for p in pairs})
        self.label = {pid: i for i, pid in enumerate(person_ids)}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        pair = self.pairs[index]
        rng = random.Random(hash((self.seed, self.epoch, index)))
        cfg, tok = self.config, self.tokenizer
        en, tg = tok.ids(pair.en, cfg.max_text_len), tok.ids(pair.tg, cfg.max_text_len)
        mlm = dict(special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=tok.vocab_size, rng=rng,
                   prob=cfg.mlm_prob, max_masks=cfg.mlm_max_masks, skipgram_prob=cfg.mlm_skipgram_prob,
                   skipgram_size=cfg.mlm_skipgram_size, mask_eos=cfg.mlm_mask_eos)
        return {
            "image": self.recipe(self.images.get(pair.image), rng, cfg.normalization),
            "patch_mask": blockwise_mask(cfg.grid, cfg.image_mask_ratio, rng),
            "pid": self.label[pair.pid],
            "en": en, "tg": tg, "en_mlm": mask_tokens(en, **mlm), "tg_mlm": mask_tokens(tg, **mlm),
        }


def collate(tokenizer: Tokenizer, mask_group: int | None = None):
    """Items -> TrainBatch. mask_group: how many consecutive items share the first one's block mask:
    None, one mask per image; 0, one for the whole batch; n, one per group of n (the reference draws
    one per forward pass, i.e. per GPU's batch: n = rank_batch)."""

    def _collate(items: list[dict]) -> TrainBatch:
        en_ids, en_att = tokenizer.pad([i["en"] for i in items])
        tg_ids, tg_att = tokenizer.pad([i["tg"] for i in items])
        en_mlm_ids, _ = tokenizer.pad([i["en_mlm"].ids for i in items])
        tg_mlm_ids, _ = tokenizer.pad([i["tg_mlm"].ids for i in items])
        size = 1 if mask_group is None else mask_group or len(items)
        return TrainBatch(
            images=torch.stack([i["image"] for i in items]),
            patch_mask=torch.stack([items[k - k % size]["patch_mask"] for k in range(len(items))]),
            pids=torch.tensor([i["pid"] for i in items], dtype=torch.long),
            en_ids=en_ids, en_att=en_att, tg_ids=tg_ids, tg_att=tg_att,
            en_mlm_ids=en_mlm_ids, en_mlm_pos=torch.stack([i["en_mlm"].positions for i in items]),
            en_mlm_labels=torch.stack([i["en_mlm"].labels for i in items]),
            tg_mlm_ids=tg_mlm_ids, tg_mlm_pos=torch.stack([i["tg_mlm"].positions for i in items]),
            tg_mlm_labels=torch.stack([i["tg_mlm"].labels for i in items]),
        )
    return _collate


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  drop_last: bool = True) -> list[list[int]]:
    """This rank's share of each global batch of the epoch: one seeded permutation, cut into global
    batches of `batch_size`, each split evenly over the ranks. So any number of processes trains on
    the same global batches, step by step. drop_last drops a short last batch (the reference does);
    a batch that would give a rank fewer than 2 items is always dropped (ITM needs a negative)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 10007 + epoch)).tolist()
    out = []
    for start in range(0, n, batch_size):
        batch = order[start:start + batch_size]
        if (drop_last and len(batch) < batch_size) or len(batch) < 2 * world:
            break
        share = len(batch) // world
        out.append(batch[rank * share:(rank + 1) * share])
    return out
