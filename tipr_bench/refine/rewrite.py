"""Re-translation of captions that did not pass: candidates only; pipeline.py decides what to keep.

Two ways, chosen with `--rewrite`:
- `glossary` (default): a constrained prompt that names the approved terms, shows the previous
  translation, how it reads back in English, and what went wrong (missed terms, wrong attributes);
- `mllm`: the published step, the published prompt verbatim with the person's image attached (an
  OpenAI-compatible multimodal endpoint receives it as a data URL).
Round 1 decodes greedily; later rounds sample (temperature 0.7, a new seed), so a repeated round
can find a different candidate instead of replaying the cached one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.records import ReasonKind, split_key
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.refine.backtranslate import Usage
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.verdict import Assessment
from tipr_bench.translate import (
    PRESETS,
    DecodingParams,
    JobResult,
    Prompt,
    TranslationJob,
    completion_style,
    translate_jobs,
)

REWRITE_MODES = ("glossary", "mllm", "none")
DEFAULT_MAX_TOKENS = DecodingParams().max_tokens

GLOSSARY_REWRITE_PROMPT = Prompt(
    "refine-glossary",
    "Please translate the English sentence '{source}' into {language}.\n{notes}\n"
    "Keep every attribute of the person exactly as in the English sentence (colours, garments, carried "
    "items, gender, left and right, counts). Reply with the {language} translation only.",
)
MLLM_REWRITE_PROMPT = Prompt(
    "refine-mllm",
    "Please combine the image information, translate the English sentence '{source}' into {language}.",
)


REWRITE_PROMPTS = (GLOSSARY_REWRITE_PROMPT, MLLM_REWRITE_PROMPT)


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str
    text: str
    status: str
    reason: str
    prompt: Prompt
    params: DecodingParams
    result: JobResult


def round_params(round_index: int, max_tokens: int = DEFAULT_MAX_TOKENS) -> DecodingParams:
    """Greedy in round 1; sampled with a per-round seed afterwards."""
    if round_index <= 1:
        return DecodingParams(temperature=0.0, seed=0, max_tokens=max_tokens)
    return DecodingParams(temperature=0.7, seed=round_index, max_tokens=max_tokens)


def glossary_notes(best: Assessment, glossary: Glossary | None, last_try: Assessment | None = None) -> str:
    """The lines that tell the model what to keep and what went wrong last time."""
    lines = []
    if glossary is not None:
        terms = glossary.render_terms(glossary.find_terms(best.source))
        if terms:
            lines.append(f"Use these terms: {terms}.")
    if best.translation.strip():
        lines.append(f"A previous translation was: {best.translation}")
    if best.back_translation.strip():
        lines.append(f"Translated back into English it reads: {best.back_translation}")
    if _problems(best):
        lines.append("What went wrong: " + _problems(best) + ".")
    if last_try is not None and last_try.translation.strip() and last_try.translation != best.translation:
        lines.append(f"Another attempt was also wrong: {last_try.translation} ({_problems(last_try)}).")
    return "\n".join(lines)


def _problems(a: Assessment) -> str:
    """The reasons worth telling the model (soft misses are no error)."""
    return "; ".join(str(r) for r in a.reasons if r.kind is not ReasonKind.SOFT_MISS)


def glossary_terms(glossary: Glossary | None, source: str) -> str:
    """The caption's approved terms as "red -> 红色; jacket -> 夹克" ("none" without a glossary or terms)."""
    terms = glossary.render_terms(glossary.find_terms(source)) if glossary is not None else ""
    return terms or "none"


def image_paths(ws: Workspace, keys: list[str]) -> dict[str, Path]:
    """Each caption's image file, from its dataset's image_root; a missing one is a UserError."""
    infos: dict[str, DatasetInfo] = {}
    out: dict[str, Path] = {}
    missing: list[tuple[str, Path]] = []
    for key in keys:
        dataset, image_path, _ = split_key(key)
        if dataset not in infos:
            info = ws.dataset(dataset)
            if info is None:
                raise UserError(f"--rewrite mllm: dataset {dataset!r} has no image folder recorded; "
                                f"ingest it with --root so its images can be sent")
            infos[dataset] = info
        path = Path(infos[dataset].image_root) / image_path
        if not path.is_file():
            missing.append((dataset, path))
        out[key] = path
    if missing:
        dataset, first = missing[0]
        info = infos[dataset]
        raise UserError(f"--rewrite mllm: {len(missing)} image(s) not found under {info.image_root}, e.g. {first}; "
                        f"say where your copy is with `tipr-bench ingest --root {info.root} --dataset {dataset} "
                        f"--images DIR -w {ws.root}` (the captions stay as they are), or use --rewrite glossary")
    return out


def rewrite_candidates(
    ws: Workspace,
    backend,
    mode: str,
    lang: str,
    targets: Mapping[str, Assessment],
    *,
    round_index: int,
    glossary: Glossary | None = None,
    last_tries: Mapping[str, Assessment] | None = None,
    progress: bool = True,
    usage: Usage | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    force: bool = False,
) -> dict[str, Candidate]:
    """One candidate per target caption (cached like any translation, not stored)."""
    if mode not in REWRITE_MODES:
        raise UserError(f"unknown --rewrite {mode!r}: use one of {', '.join(REWRITE_MODES)}")
    if mode == "none" or not targets:
        return {}
    last_tries = last_tries or {}
    params = round_params(round_index, max_tokens)
    if mode == "mllm":
        prompt = MLLM_REWRITE_PROMPT
        images = image_paths(ws, list(targets))
        jobs = [TranslationJob(key, a.source, lang, image_path=images[key]) for key, a in targets.items()]
    elif completion_style(backend):
        # A base model cannot act on notes; it gets the approved terms as a glossary line over two examples.
        prompt = PRESETS["fewshot-glossary"]
        jobs = [TranslationJob(key, a.source, lang, extras={"terms": glossary_terms(glossary, a.source)})
                for key, a in targets.items()]
    else:
        prompt = GLOSSARY_REWRITE_PROMPT
        jobs = [TranslationJob(key, a.source, lang, extras={"notes": glossary_notes(a, glossary, last_tries.get(key))})
                for key, a in targets.items()]
    report = translate_jobs(ws, jobs, backend, prompt, params, store=False, force=force, progress=progress)
    if usage is not None:
        usage.add(report)
    return {
        key: Candidate(key, r.text, r.status, r.reason, prompt, params, r)
        for key, r in report.results.items()
        if r.status != "failed" and r.text.strip()
    }
