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
import torch.nn.functional as F
from PIL import Image

from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
from tipr_bench.baselines.bi_irra.model import TrainBatch
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.benchmark.errors import UserError
from tipr_bench.benchmark.store import Workspace

# CLIP's statistics, which CCLM/X2-VLM pre-training used.
MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


@dataclass(frozen=True)
class Pair:
    key: str
    pid: int
    image: str  # absolute path
    en: str
    tg: str


def image_root(ws: Workspace, dataset: str) -> Path:
    info = ws.dataset(dataset)
    if info is None:
        raise UserError(f"dataset {dataset!r} is not in workspace {ws.root}; run `tipr-bench ingest` first")
    return Path(info.image_root)


def load_pairs(ws: Workspace, dataset: str, split: str, lang: str) -> list[Pair]:
    """English + target-language captions of the same keys; keys without a translation are left out."""
    root = image_root(ws, dataset)
    english = ws.captions(dataset, split, "en")
    if not english:
        raise UserError(f"no {split} captions for {dataset!r} in {ws.root}; check --dataset or ingest the split")
    target = {c.key: c.text for c in ws.captions(dataset, split, lang, statuses=("ok", "flagged"))}
    pairs = [Pair(c.key, c.person_id, str(root / c.image_path), c.text, target[c.key])
             for c in english if c.key in target]
    if not pairs:
        raise UserError(
            f"no {lang} translations for {dataset}/{split} in {ws.root}; run `tipr-bench translate --lang {lang}` first"
        )
    return pairs


def read_image(path: str, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [3, H, W], resized with bicubic filtering."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((size[1], size[0]), Image.BICUBIC)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read image {path}: {err}; check the dataset's image root") from None
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size[0], size[1], 3).permute(2, 0, 1)


def normalize(image: torch.Tensor) -> torch.Tensor:
    return (image.float() / 255.0 - MEAN) / STD


def augment(image: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """IRRA's recipe on a uint8 image: horizontal flip, pad-and-crop, normalise, random erasing."""
    if rng.random() < 0.5:
        image = image.flip(-1)
    _, h, w = image.shape
    pad = max(1, round(min(h, w) * 0.08))
    padded = F.pad(image.unsqueeze(0).float(), (pad, pad, pad, pad), mode="constant").squeeze(0)
    top, left = rng.randint(0, 2 * pad), rng.randint(0, 2 * pad)
    out = normalize(padded[:, top:top + h, left:left + w])
    if rng.random() < 0.5:  # random erasing with the mean colour (0 after normalisation)
        for _ in range(10):
            area = rng.uniform(0.02, 0.4) * h * w
            aspect = rng.uniform(0.3, 3.3)
            eh, ew = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if eh < h and ew < w:
                y, x = rng.randint(0, h - eh), rng.randint(0, w - ew)
                out[:, y:y + eh, x:x + ew] = 0
                break
    return out


class ImageStore:
    """Reads images at the model's size; keeps them in memory when the config asks (small sets)."""

    def __init__(self, size: tuple[int, int], cache: bool):
        self.size, self.cache = size, cache
        self._images: dict[str, torch.Tensor] = {}

    def get(self, path: str) -> torch.Tensor:
        image = self._images.get(path)
        if image is None:
            image = read_image(path, self.size)
            if self.cache:
                self._images[path] = image
        return image


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, pairs: list[Pair], tokenizer: Tokenizer, config: BiIrraConfig, seed: int):
        self.pairs, self.tokenizer, self.config, self.seed = pairs, tokenizer, config, seed
        self.images = ImageStore(config.image_size, config.cache_images)
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
                   skipgram_size=cfg.mlm_skipgram_size)
        return {
            "image": augment(self.images.get(pair.image), rng),
            "patch_mask": blockwise_mask(cfg.grid, cfg.image_mask_ratio, rng),
            "pid": self.label[pair.pid],
            "en": en, "tg": tg, "en_mlm": mask_tokens(en, **mlm), "tg_mlm": mask_tokens(tg, **mlm),
        }


def collate(tokenizer: Tokenizer):
    def _collate(items: list[dict]) -> TrainBatch:
        en_ids, en_att = tokenizer.pad([i["en"] for i in items])
        tg_ids, tg_att = tokenizer.pad([i["tg"] for i in items])
        en_mlm_ids, _ = tokenizer.pad([i["en_mlm"].ids for i in items])
        tg_mlm_ids, _ = tokenizer.pad([i["tg_mlm"].ids for i in items])
        return TrainBatch(
            images=torch.stack([i["image"] for i in items]),
            patch_mask=torch.stack([i["patch_mask"] for i in items]),
            pids=torch.tensor([i["pid"] for i in items], dtype=torch.long),
            en_ids=en_ids, en_att=en_att, tg_ids=tg_ids, tg_att=tg_att,
            en_mlm_ids=en_mlm_ids, en_mlm_pos=torch.stack([i["en_mlm"].positions for i in items]),
            en_mlm_labels=torch.stack([i["en_mlm"].labels for i in items]),
            tg_mlm_ids=tg_mlm_ids, tg_mlm_pos=torch.stack([i["tg_mlm"].positions for i in items]),
            tg_mlm_labels=torch.stack([i["tg_mlm"].labels for i in items]),
        )
    return _collate


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This rank's batches for an epoch: one seeded permutation shared by all ranks, split evenly.
    A trailing batch smaller than 2 is dropped (ITM needs a negative inside the batch)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 10007 + epoch)).tolist()
    per_rank = n // world
    mine = order[rank * per_rank:(rank + 1) * per_rank]
    batches = [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]
    return [b for b in batches if len(b) >= 2]
