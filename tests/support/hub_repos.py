"""Repos for the loopback Hub, laid out like the published multilingual benchmark (zzhugging/Bi-IRRA:
per dataset folder, `{train,test}_reid_{en,ch,fr,de}.json`, index-aligned, no val files), and the
environment that points huggingface_hub at the loopback server with a private cache."""

from __future__ import annotations

import json
from pathlib import Path

FOLDERS = {"CUHK-PEDES": "CUHK01", "ICFG-PEDES": "train_query", "RSTPReid": "imgs"}
WORDS = {"en": ("A person {} in a red coat, view {}, caption {}.",),
         "ch": ("一个穿红色外套的人{}，视角{}，描述{}。",),
         "fr": ("Une personne {} en manteau rouge, vue {}, légende {}.",),
         "de": ("Eine Person {} im roten Mantel, Ansicht {}, Beschreibung {}.",)}
SPLITS = {"train": range(1, 4), "test": range(10, 14)}  # person ids


def bi_irra_records(prefix: str, split: str, lang: str) -> list[dict]:
    return [{"file_path": f"{prefix}/{pid:04d}{img:03d}.jpg", "id": pid,
             "captions": [WORDS[lang][0].format(pid, img, j) for j in range(2)]}
            for pid in SPLITS[split] for img in range(2)]


def bi_irra_files() -> dict[str, bytes]:
    files = {"README.md": b"---\nlicense: other\n---\n# Bi-IRRA multilingual splits\n"}
    for folder, prefix in FOLDERS.items():
        for split in SPLITS:
            for lang in WORDS:
                records = bi_irra_records(prefix, split, lang)
                files[f"{folder}/{split}_reid_{lang}.json"] = json.dumps(records, ensure_ascii=False).encode()
    return files


def hub_env(endpoint: str, tmp: Path, token: str = "") -> dict[str, str]:
    """huggingface_hub talks to `endpoint` with its cache under `tmp` and no stored login."""
    return {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp / "hf-home"), "HF_HUB_DISABLE_XET": "1",
            "HF_TOKEN": token, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0",
            "TIPR_BENCH_CACHE": str(tmp / "tipr-cache")}
