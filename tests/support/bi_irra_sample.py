"""A small synthetic pedestrian dataset for the Bi-IRRA tests, written into a real workspace.

Each person has a gender, a top colour, a bottom colour and maybe a bag; images are 128x384 drawings
with pose jitter and noise; captions describe those attributes in varied words. The "zh" captions are
a deterministic word-for-word STAND-IN made by the test (backend="test"), not a real translation:
numbers measured on them only show the pipeline learns, never translation quality.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo, Workspace

COLOURS = {
    "red": (200, 30, 30), "blue": (30, 60, 200), "green": (30, 160, 60), "black": (20, 20, 20),
    "white": (235, 235, 235), "yellow": (230, 210, 40), "purple": (130, 40, 160), "grey": (128, 128, 128),
}
ZH = {
    "red": "红色", "blue": "蓝色", "green": "绿色", "black": "黑色", "white": "白色", "yellow": "黄色",
    "purple": "紫色", "grey": "灰色", "man": "男人", "woman": "女人", "a": "一个", "wearing": "穿着",
    "shirt": "衬衫", "jacket": "夹克", "pants": "裤子", "shorts": "短裤", "and": "和", "carrying": "拿着",
    "bag": "包", "the": "这个", "has": "有", "on": "在", "with": "带着", "person": "人", "is": "是",
}


def _cipher(word: str) -> str:
    """A fixed one- or two-character CJK code for a word outside the small dictionary."""
    code = zlib.crc32(word.encode())
    return chr(0x4E00 + code % 20000) + (chr(0x4E00 + (code >> 15) % 20000) if len(word) > 4 else "")


def stand_in_zh(text: str) -> str:
    """Word-by-word substitution into CJK characters: a TEST stand-in for a translation, nothing more."""
    words = text.lower().replace(",", " ").replace(".", " ").replace("'", " ").split()
    return "".join(ZH.get(w) or _cipher(w) for w in words)


def add_stand_in_translations(ws: Workspace, dataset: str, lang: str = "zh") -> int:
    """Put stand-in target-language captions (backend="test") for every English caption of a dataset."""
    rows = [Translation(c.key, lang, stand_in_zh(c.text), backend="test", model="test", prompt_id="test",
                        prompt_sha256="0" * 64) for c in ws.captions(dataset)]
    return ws.put_translations(rows)


def _person(rng: random.Random) -> dict:
    names = list(COLOURS)
    return {"gender": rng.choice(["man", "woman"]), "top": rng.choice(names), "bottom": rng.choice(names),
            "top_kind": rng.choice(["shirt", "jacket"]), "bottom_kind": rng.choice(["pants", "shorts"]),
            "bag": rng.choice([None, *names[:4]])}


def _draw(p: dict, rng: random.Random, path: Path) -> None:
    w, h = 128, 384
    img = Image.new("RGB", (w, h), tuple(rng.randint(90, 170) for _ in range(3)))
    d = ImageDraw.Draw(img)
    dx, dy = rng.randint(-12, 12), rng.randint(-15, 15)
    d.ellipse((44 + dx, 20 + dy, 84 + dx, 64 + dy), fill=(225, 190, 160))
    hair = (40, 30, 20) if p["gender"] == "man" else (90, 50, 20)
    d.rectangle((44 + dx, 18 + dy, 84 + dx, 34 + dy if p["gender"] == "man" else 80 + dy), fill=hair)
    d.rectangle((34 + dx, 68 + dy, 94 + dx, 200 + dy), fill=COLOURS[p["top"]])
    bottom_end = 340 if p["bottom_kind"] == "pants" else 260
    d.rectangle((38 + dx, 200 + dy, 90 + dx, bottom_end + dy), fill=COLOURS[p["bottom"]])
    if p["bag"]:
        d.rectangle((90 + dx, 120 + dy, 118 + dx, 190 + dy), fill=COLOURS[p["bag"]])
    for _ in range(40):
        x, y = rng.randrange(w), rng.randrange(h)
        d.point((x, y), fill=tuple(rng.randrange(256) for _ in range(3)))
    img.save(path)


def _caption(p: dict, rng: random.Random) -> str:
    g = p["gender"] if rng.random() < 0.7 else "person"
    parts = [f"a {g} wearing a {p['top']} {p['top_kind']} and {p['bottom']} {p['bottom_kind']}"]
    if rng.random() < 0.5:
        parts = [f"the {g} has a {p['top']} {p['top_kind']} and {p['bottom']} {p['bottom_kind']}"]
    if p["bag"]:
        parts.append(f"carrying a {p['bag']} bag")
    return ", ".join(parts) + "."


def build_workspace(root: Path, persons: int = 40, seed: int = 0, lang: str = "zh", val: bool = True) -> Workspace:
    """Images + captions (2 images x 2 captions per person; 60/20/20 train/val/test by person, or without
    `val` 80/20 train/test, as the published files are) and stand-in target-language captions, in a new
    workspace at root/ws."""
    rng = random.Random(seed)
    images = root / "imgs"
    images.mkdir(parents=True, exist_ok=True)
    captions, translations = [], []
    for pid in range(persons):
        person = _person(rng)
        split = "train" if pid < persons * (0.6 if val else 0.8) else ("val" if pid < persons * 0.8 else "test")
        for view in range(2):
            rel = f"p{pid:04d}_{view}.png"
            _draw(person, rng, images / rel)
            for index in range(2):
                c = Caption("synth", split, pid, rel, index, "en", _caption(person, rng))
                captions.append(c)
                translations.append(Translation(c.key, lang, stand_in_zh(c.text), backend="test", model="test",
                                                prompt_id="test", prompt_sha256="0" * 64))
    ws = Workspace.open(root / "ws")
    ws.ingest(DatasetInfo("synth", str(root), str(images), str(root / "reid_raw.json"), "2026-01-01T00:00:00+00:00"),
              captions)
    ws.put_translations(translations)
    return ws
