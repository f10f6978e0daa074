"""What goes into a release: rows per language and split, read from the workspace, plus the
provenance statistics the dataset card reports.

Rules (the card states them too):
- English rows are the source captions (provenance "source").
- A translation is exported when its status is "ok" (and "flagged" with include_flagged);
  "failed" ones never are. A caption with no exportable translation in a language is simply
  absent from that language's files; the card and manifest count how many are missing.
- Rows follow the workspace's stable caption order, so the same workspace gives the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tipr_bench.benchmark.records import QAStanding, Translation
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError

COLUMNS = (
    "key", "dataset", "split", "person_id", "image_path", "caption_index", "lang", "text",
    "backend", "model", "prompt_id", "prompt_sha256", "verdict", "provenance",
)
INT_COLUMNS = ("person_id", "caption_index")
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}

# Only decoding parameters reach a release: whatever else a backend recorded (base URLs,
# organisation ids, anything key-like) stays in the workspace.
DECODING_KEYS = frozenset({
    "temperature", "top_p", "top_k", "min_p", "max_tokens", "max_new_tokens", "seed", "stop",
    "repetition_penalty", "frequency_penalty", "presence_penalty", "num_beams", "do_sample",
    "length_penalty", "n",
})


def decoding_params(params: dict) -> dict:
    return {k: params[k] for k in sorted(params) if k in DECODING_KEYS}


@dataclass
class LangStats:
    """Per language: what the workspace holds for the release's captions, and what was exported."""

    source_captions: int = 0
    exported: int = 0
    missing: int = 0  # no translation at all
    excluded_flagged: int = 0
    excluded_failed: int = 0
    translations: int = 0  # every translation in scope, any status
    flagged: int = 0
    failed: int = 0
    rewritten: int = 0  # text replaced by a refine round (even if a reviewer later approved or corrected it)
    human: int = 0
    source_provenance: int = 0
    machine: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    source_per_split: dict[str, int] = field(default_factory=dict)
    models: Counter = field(default_factory=Counter)  # (backend, model, decoding params json)
    prompts: Counter = field(default_factory=Counter)  # (prompt_id, prompt_sha256)
    verdicts: Counter = field(default_factory=Counter)
    qe_scores: list[float] = field(default_factory=list)
    chrf_scores: list[float] = field(default_factory=list)
    glossary: Counter = field(default_factory=Counter)  # "key=value" recorded in params

    @property
    def qa_records(self) -> int:
        return sum(self.verdicts.values())


@dataclass
class ReleaseData:
    """What a release holds: its scope, the English captions every language is keyed by, and per
    language the statistics its rows were counted into (`language_rows` fills them, one language at a
    time, so that a release never holds every language's rows at once)."""

    dataset: str
    splits: list[str]
    languages: list[str]
    english: dict[str, list]  # split -> the workspace's English captions, in stable order
    stats: dict[str, LangStats]
    include_flagged: bool


def pick_dataset(ws: Workspace, dataset: str | None) -> str:
    present = sorted({d for d, _ in ws.splits()})
    if not present:
        raise UserError(f"workspace {ws.root} holds no captions: run `tipr-bench ingest` first")
    if dataset is None:
        if len(present) > 1:
            raise UserError(f"workspace {ws.root} holds several datasets ({', '.join(present)}); "
                            "a release holds one: pick it with --dataset")
        return present[0]
    if dataset not in present:
        raise UserError(f"dataset {dataset!r} is not in workspace {ws.root}; it holds {', '.join(present)}")
    return dataset


def languages_of(ws: Workspace, slug: str) -> list[str]:
    """English and every language with at least one translation of this dataset's captions."""
    return ws.languages(slug)


def scope(ws: Workspace, dataset: str | None, langs: list[str] | None, include_flagged: bool) -> ReleaseData:
    """The release's dataset, splits and languages, checked, with its English captions; no rows yet."""
    slug = pick_dataset(ws, dataset)
    splits = sorted((s for _, s in ws.splits(slug)), key=lambda s: (SPLIT_ORDER.get(s, len(SPLIT_ORDER)), s))
    present = languages_of(ws, slug)
    wanted = langs if langs else present
    if "en" not in wanted:
        given = ",".join(wanted)
        raise UserError(f"--langs {given} lacks en: the English captions anchor every translation (keys, person ids, "
                        f"image paths), so a release always holds them; use --langs en,{given}")
    unknown = [lang for lang in wanted if lang not in present]
    if unknown:
        raise UserError(f"no {', '.join(unknown)} captions for {slug} in workspace {ws.root}; languages present: "
                        f"{', '.join(present)} (translate first or drop them from --langs)")
    english = {split: ws.captions(slug, split, "en") for split in splits}
    return ReleaseData(slug, splits, list(wanted), english, {lang: LangStats() for lang in wanted}, include_flagged)


def language_rows(ws: Workspace, data: ReleaseData, lang: str,
                  advance: Callable[[int], None] = lambda n: None) -> dict[str, list[dict]]:
    """One language's rows per split (COLUMNS), counted into `data.stats[lang]`; `advance(n)` reports n
    captions looked at (progress)."""
    st = data.stats[lang] = LangStats()
    allowed = {"ok", "flagged"} if data.include_flagged else {"ok"}
    rows: dict[str, list[dict]] = {}
    for split in data.splits:
        english = data.english[split]
        st.source_captions += len(english)
        st.source_per_split[split] = len(english)
        if lang == "en":
            out = [_row(c, c.text, None, "") for c in english]
            st.source_provenance += len(out)
        else:
            translations = ws.translations(lang, data.dataset, split)
            qa = ws.qa_standings(lang, data.dataset, split)
            rewritten = ws.refine_rewritten_keys(lang, data.dataset, split)
            out = []
            for c in english:
                t = translations.get(c.key)
                if t is None:
                    st.missing += 1
                    continue
                q = qa.get(c.key)
                _count(st, t, q, c.key in rewritten)
                if t.status not in allowed:
                    if t.status == "flagged":
                        st.excluded_flagged += 1
                    else:
                        st.excluded_failed += 1
                    continue
                out.append(_row(c, t.text, t, q.verdict if q else ""))
            del translations, qa, rewritten
        st.exported += len(out)
        st.per_split[split] = len(out)
        advance(len(english))
        rows[split] = out
    if st.exported == 0:
        raise UserError(f"no exportable {lang} captions for {data.dataset} (missing {st.missing}, flagged "
                        f"{st.excluded_flagged}, failed {st.excluded_failed}); drop {lang} from --langs"
                        + ("" if data.include_flagged else " or pass --include-flagged"))
    return rows


def _row(c, text: str, t: Translation | None, verdict: str) -> dict:
    return {
        "key": c.key, "dataset": c.dataset, "split": c.split, "person_id": int(c.person_id),
        "image_path": c.image_path, "caption_index": int(c.caption_index), "lang": t.lang if t else "en",
        "text": text, "backend": t.backend if t else "", "model": t.model if t else "",
        "prompt_id": t.prompt_id if t else "", "prompt_sha256": t.prompt_sha256 if t else "",
        "verdict": verdict, "provenance": t.provenance if t else "source",
    }


def _count(st: LangStats, t: Translation, qa: QAStanding | None, rewritten: bool) -> None:
    """Count one translation; `qa` is its QA standing (latest verdict, latest scores), `rewritten` whether
    a refine round replaced its text."""
    st.translations += 1
    st.flagged += t.status == "flagged"
    st.failed += t.status == "failed"
    st.rewritten += rewritten
    st.human += t.provenance == "human"
    st.source_provenance += t.provenance == "source"
    st.machine += t.provenance == "machine"
    params = json.dumps(decoding_params(t.params), sort_keys=True, separators=(",", ":"))
    st.models[(t.backend, t.model, params)] += 1
    st.prompts[(t.prompt_id, t.prompt_sha256)] += 1
    for k, v in t.params.items():
        if "glossary" in k.lower() and isinstance(v, str | int | float):
            st.glossary[f"{k}={v}"] += 1
    if qa is not None:
        st.verdicts[qa.verdict] += 1
        if qa.qe is not None:
            st.qe_scores.append(qa.qe)
        if qa.chrf is not None:
            st.chrf_scores.append(qa.chrf)
