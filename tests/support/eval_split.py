"""A small real workspace with one dataset split (English captions + Chinese translations) for the
evaluation tests, and helpers that write submission files the way a user would."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo, Workspace

DATASET = "cuhk-pedes"


def build_split(root: Path, persons: int = 4, images_per_person: int = 2, captions_per_image: int = 2,
                translate: bool = True) -> Path:
    """Workspace at root/ws: `persons` test persons (ids 10, 11, ...) and one train person (id 1).
    Every test caption gets a Chinese translation. Returns the workspace folder."""
    captions = []
    for pid in [1, *range(10, 10 + persons)]:
        split = "train" if pid == 1 else "test"
        for img in range(images_per_person):
            for j in range(captions_per_image):
                captions.append(Caption(DATASET, split, pid, f"CUHK01/{pid:04d}{img:03d}.png", j, "en",
                                        f"person {pid} image {img} caption {j}"))
    ws_root = root / "ws"
    with Workspace.open(ws_root) as ws:
        ws.ingest(DatasetInfo(DATASET, str(root), str(root / "imgs"), str(root / "reid_raw.json"),
                              "2026-01-01T00:00:00+00:00"), captions)
        if translate:
            ws.put_translations([
                Translation(c.key, "zh", f"第{c.person_id}人 {c.caption_index}", "test", "stand-in", "p", "0")
                for c in captions if c.split == "test"
            ])
    return ws_root


def split_items(ws_root: Path, lang: str = "zh", split: str = "test"):
    """(caption keys, caption pids, image paths, image pids) of the split, in the workspace's order."""
    with Workspace.open(ws_root) as ws:
        caps = ws.captions(DATASET, split, lang)
        images: dict[str, int] = {}
        for c in ws.captions(DATASET, split, "en"):
            images.setdefault(c.image_path, c.person_id)
    return [c.key for c in caps], [c.person_id for c in caps], list(images), list(images.values())


def perfect_features(pids, dim: int = 16, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """One-hot-like features per person id, so matching ids are the nearest (plus optional noise)."""
    rng = np.random.default_rng(seed)
    feats = np.zeros((len(pids), dim), dtype=np.float32)
    for i, pid in enumerate(pids):
        feats[i, pid % dim] = 1.0
    return feats + noise * rng.standard_normal(feats.shape).astype(np.float32)


def write_submission(path: Path, text_feats, text_keys, image_feats, image_paths, **extra) -> Path:
    arrays = {"text_feats": text_feats, "text_keys": np.array(text_keys, dtype=str),
              "image_feats": image_feats, "image_paths": np.array(image_paths, dtype=str)}
    arrays.update(extra)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path
