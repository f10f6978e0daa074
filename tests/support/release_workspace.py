"""A small real workspace for release tests: English captions plus zh/fr/de translations with the
cases a release must handle (missing, flagged, failed, rewritten, human-corrected, QA records)."""

from __future__ import annotations

from pathlib import Path

from tipr_bench.benchmark.records import Caption, QARecord, Translation
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.translate.prompts import PRESETS

SLUG = "cuhk-pedes"
LDAT_SHA = PRESETS["ldat"].sha256
SECRET = "sk-test-SECRET-never-in-a-release"


def captions() -> list[Caption]:
    out = []
    for split, persons in (("train", range(1, 5)), ("test", range(5, 8))):
        for pid in persons:
            for img in range(2):
                image = f"CUHK01/{pid:04d}{img:03d}.png"
                for j in range(2):
                    text = f"A person {pid} wearing a red coat, image {img}, caption {j} — “quoted”."
                    out.append(Caption(SLUG, split, pid, image, j, "en", text))
    return out


def translation(key: str, lang: str, text: str, **kw) -> Translation:
    fields = dict(backend="openai", model="qwen2.5-7b-instruct", prompt_id="ldat", prompt_sha256=LDAT_SHA,
                  params={"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "seed": 0, "api_key": SECRET,
                          "base_url": "http://user:" + SECRET + "@example.invalid/v1"},
                  created_at="2026-01-01T00:00:00+00:00")
    fields.update(kw)
    return Translation(key=key, lang=lang, text=text, **fields)


def build_workspace(path: Path) -> Workspace:
    ws = Workspace.open(path)
    caps = captions()
    ws.ingest(DatasetInfo(SLUG, "/data/CUHK-PEDES", "/data/CUHK-PEDES/imgs", "reid_raw.json",
                          "2026-01-01T00:00:00+00:00"), caps)
    translations, qa = [], []
    for i, c in enumerate(caps):
        # zh: every caption but the first; the third was rewritten by refine (round 1)
        if i != 0:
            translations.append(translation(c.key, "zh", f"一个穿红色外套的人 {c.person_id}-{i}。",
                                            round=1 if i == 3 else 0))
            qa.append(QARecord(c.key, "zh", qe=0.9 - 0.01 * (i % 5), chrf=55.0, verdict="ok" if i != 5 else "flag"))
        # fr: all; one flagged, one failed
        status = "flagged" if i == 2 else "failed" if i == 4 else "ok"
        translations.append(translation(c.key, "fr", f"Une personne {c.person_id} avec un manteau rouge ({i}).",
                                        model="llama-3-8b-instruct", status=status))
        # de: test split human-corrected, train machine
        translations.append(translation(c.key, "de", f"Eine Person {c.person_id} mit rotem Mantel ({i}).",
                                        model="llama-3-8b-instruct",
                                        provenance="human" if c.split == "test" else "machine"))
    ws.put_translations(translations)
    ws.put_qa(qa)
    return ws
