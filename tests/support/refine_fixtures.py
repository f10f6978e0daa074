"""A small workspace with English captions, Chinese translations (one of them wrong), a glossary
and a loopback responder that back-translates and rewrites, for the refine tests."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.glossary_files import parse_glossary_tsv

DATASET = "cuhk-pedes"
SOURCES = {
    "p/1.png": "A man in a red jacket carrying a black backpack.",
    "p/2.png": "A woman wearing a white shirt and blue jeans.",
    "p/3.png": "A man in a grey coat holding an umbrella in his right hand.",
}
GOOD = {
    "p/1.png": "一个穿着红色夹克、背着黑色背包的男人。",
    "p/2.png": "一个穿着白色衬衫和蓝色牛仔裤的女人。",
    "p/3.png": "一个穿着灰色外套、右手拿着雨伞的男人。",
}
BAD_3 = "一个穿着黑色外套、右手拿着雨伞的男人。"  # grey -> black
WORSE_3 = "一个穿着黑色外套的女人。"  # colour, gender and the umbrella wrong
BACK = {  # what a faithful back-translator says for each Chinese text
    GOOD["p/1.png"]: "A man wearing a red jacket and carrying a black backpack.",
    GOOD["p/2.png"]: "A woman wearing a white shirt and blue jeans.",
    GOOD["p/3.png"]: "A man wearing a grey coat and holding an umbrella in his right hand.",
    BAD_3: "A man wearing a black coat and holding an umbrella in his right hand.",
    WORSE_3: "A woman wearing a black coat.",
}
GLOSSARY_TSV = """en\ttarget\twrong\tcategory\tnote
man\t男人|男子|男性\t\tgender\t
woman\t女人|女子|女性\t\tgender\t
red\t红色|红\t\tcolour\t
white\t白色|白\t\tcolour\t
grey|gray\t灰色|灰\t\tcolour\t
blue\t蓝色|蓝\t\tcolour\t
black\t黑色|黑\t\tcolour\t
jacket\t夹克|外套\t\tgarment\t
coat\t外套|大衣\t\tgarment\t
shirt\t衬衫\t\tgarment\t
jeans\t牛仔裤\t\tgarment\t
backpack\t背包|双肩包\t书包\tbag\t
umbrella\t雨伞|伞\t\titem\t
"""
_BT = re.compile(r"Please translate the Chinese sentence '(?P<src>.*)' into English\.", re.S)
_SRC = re.compile(r"translate the English sentence '(?P<src>.*?)' into Chinese\.", re.S)


def glossary() -> Glossary:
    return Glossary("zh", parse_glossary_tsv(GLOSSARY_TSV, "test glossary", "user"))


def make_workspace(root: Path, third: str = BAD_3) -> Workspace:
    """Three test-split captions with images on disk and their zh translations (the third one given)."""
    images = root / "images"
    captions = []
    for i, (image, text) in enumerate(SOURCES.items()):
        (images / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 16), (i * 60, 0, 0)).save(images / image)
        captions.append(Caption(DATASET, "test", i + 1, image, 0, "en", text))
    ws = Workspace.open(root / "ws")
    ws.ingest(DatasetInfo(DATASET, str(root), str(images), "reid_raw.json", "2026-01-01T00:00:00+00:00"), captions)
    texts = {**GOOD, "p/3.png": third}
    ws.put_translations(
        Translation(c.key, "zh", texts[c.image_path], "openai", "test-model", "ldat", "0" * 64) for c in captions
    )
    return ws


def key(image: str) -> str:
    return f"{DATASET}/{image}#0"


def user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content if p["type"] == "text")


def responder(rewrite_to: dict[str, str], back: dict[str, str] | None = None):
    """Back-translates known Chinese texts (BACK, plus `back`); answers a rewrite prompt with
    rewrite_to[English source]."""
    back_translations = {**BACK, **(back or {})}

    def respond(body: dict) -> str:
        text = user_text(body)
        bt = _BT.search(text)
        if bt:
            return back_translations.get(bt["src"], "Something else entirely.")
        src = _SRC.search(text)
        if src and src["src"] in rewrite_to:
            return rewrite_to[src["src"]]
        return "无法翻译"

    return respond
