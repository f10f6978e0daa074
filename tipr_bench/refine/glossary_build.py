"""`glossary build`: a first glossary for a language tipr-bench ships none for, drafted by a model for
a person to review.

For every English term of the shipped glossaries (the same 433 terms, aliases and categories), the
model is asked for the usual rendering in the target language, with the term's category and two
captions that use it as context; each rendering is then back-translated into English and the
back-translation is matched against the English terms, so the reviewer sees at once which
renderings came back as the same term, a synonym, another term or nothing. Both steps go through
the translate runner (`translate_jobs` with `store=False`, `back_translate`): every answer is cached
in the workspace, a rerun after a kill asks only for what is missing, and `force` asks again.

The file written is a `--glossary` TSV with a sixth column, `check`, for the reviewer; the parser
reads and ignores it, so a reviewed file works as it is: `--glossary FILE --lang XX`, and its entries
make the glossary version in the term-match signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import write_text
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.refine.backtranslate import BACK_TRANSLATION_PROMPT, BackTranslation, Usage, back_translate
from tipr_bench.refine.glossary import Glossary, GlossaryEntry
from tipr_bench.refine.glossary_files import CHECK_COLUMN, HEADER, load_glossary
from tipr_bench.translate import (
    PRESETS,
    DecodingParams,
    Estimate,
    Prompt,
    RunReport,
    TranslationJob,
    cost,
    estimate,
    plan_requests,
    translate_jobs,
)

ENGLISH_TERMS_FROM = "zh"  # every shipped glossary holds the same English terms; this one lends them
EXAMPLES_PER_TERM = 2
NO_EXAMPLE = "(no caption of yours uses it)"
SYSTEM = "You are a professional translator of person descriptions: clothing, colours, materials and appearance."
TERM_PROMPT = Prompt(
    "glossary-term",
    "How is the English {category} term '{source}' usually written in {language} descriptions of what a person "
    "wears or looks like? Two English captions that use it:\n1. {example1}\n2. {example2}\n"
    "Reply with the {language} term only, in its dictionary form, on one line: no quotes, no explanation.",
    system=SYSTEM,
)
TERM_PROMPT_STRICT = Prompt(
    "glossary-term-strict",
    "Write the {language} word or phrase for the English {category} term '{source}'. Output only that word "
    "or phrase, in {language}, on one line.",
    system=SYSTEM,
)
# Base models (no chat template) follow no instructions: they see the term in the few-shot frame.
BASE_PROMPTS = (PRESETS["fewshot"], PRESETS["fewshot-strict"])
TERM_GLUE = frozenset({"and", "of", "with"})  # words of a multiword term that need no term of their own


@dataclass(frozen=True, slots=True)
class BackCheck:
    """What the back-translation of a rendering says about it."""

    kind: str  # "same" | "synonym" | "other" | "none" | "failed"
    back_translation: str
    found: tuple[str, ...] = ()  # English terms found in the back-translation

    def describe(self, model_check: str = "") -> str:
        said = f"back-translates to {self.back_translation!r}" if self.back_translation else "no back-translation"
        what = {"same": "same term", "synonym": "a synonym", "other": "another term: " + ", ".join(self.found),
                "none": "no glossary term", "failed": "failed"}[self.kind]
        return f"{self.kind}: {said} ({what})" + (f"; model output {model_check}" if model_check else "")


@dataclass(frozen=True, slots=True)
class BuiltTerm:
    entry: GlossaryEntry  # the English side: term, aliases, category
    target: str  # the model's rendering ("" when it gave none)
    check: BackCheck
    model_check: str = ""  # why the output checks flagged the rendering, if they did


@dataclass
class BuildResult:
    lang: str
    terms: list[BuiltTerm]
    report: RunReport  # the renderings' run
    back: Usage = field(default_factory=Usage)  # the back-translations' requests
    cost: float = 0.0
    wall_s: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {kind: 0 for kind in ("same", "synonym", "other", "none", "failed")}
        for t in self.terms:
            out[t.check.kind] += 1
        return out

    def summary(self) -> dict:
        return {"lang": self.lang, "terms": len(self.terms), **self.counts(),
                "requests": self.report.requests + self.back.requests,
                "cached": self.report.cached, "tokens_in": self.report.tokens_in + self.back.tokens_in,
                "tokens_out": self.report.tokens_out + self.back.tokens_out, "cost": round(self.cost, 6),
                "wall_s": round(self.wall_s, 2)}


def english_terms() -> tuple[GlossaryEntry, ...]:
    """The English side every built glossary covers: terms, aliases, categories (targets not used)."""
    return load_glossary(ENGLISH_TERMS_FROM).entries


def example_captions(entries: Sequence[GlossaryEntry], captions: Iterable[str],
                     per_term: int = EXAMPLES_PER_TERM) -> dict[str, list[str]]:
    """Up to `per_term` distinct captions per term, in the captions' order, for the prompt's context."""
    index = Glossary(ENGLISH_TERMS_FROM, entries)
    found: dict[str, list[str]] = {e.term: [] for e in entries}
    waiting = len(found)
    for text in captions:
        for term in {m.term for m in index.find_terms(text)}:
            examples = found[term]
            if len(examples) < per_term and text not in examples:
                examples.append(text.strip())
                waiting -= len(examples) == per_term
        if not waiting:
            break
    return found


def term_jobs(lang: str, entries: Sequence[GlossaryEntry], examples: dict[str, list[str]]) -> list[TranslationJob]:
    jobs = []
    for e in entries:
        ex = examples.get(e.term, []) + [NO_EXAMPLE] * EXAMPLES_PER_TERM
        jobs.append(TranslationJob(f"glossary:{e.term}", e.term, lang,
                                   extras={"category": e.category, "example1": ex[0], "example2": ex[1]}))
    return jobs


def prompts_for(base_model: bool) -> tuple[Prompt, Prompt]:
    """(prompt, retry prompt) for a chat model or a base model."""
    return BASE_PROMPTS if base_model else (TERM_PROMPT, TERM_PROMPT_STRICT)


def back_check(entry: GlossaryEntry, back: BackTranslation | None, english: Glossary) -> BackCheck:
    """Match a rendering's back-translation against the English terms: the same term (or terms that
    hold all its words), a synonym (a term the shipped glossaries render alike), another term, or none."""
    if back is None or not back.text.strip():
        return BackCheck("failed", "", ())
    found = tuple(dict.fromkeys(m.term for m in english.find_terms(back.text)))
    said = {word for other in found for word in other.split()}
    if entry.term in found or set(entry.term.split()) - TERM_GLUE <= said:
        kind = "same"  # the term, a longer one that holds it, or its words in another order (white and black)
    elif english.said_by(entry.term, set(found)):
        kind = "synonym"
    else:
        kind = "other" if found else "none"
    return BackCheck(kind, back.text.strip(), found)


def build_glossary(ws: Workspace, lang: str, backend, captions: Iterable[str], *, base_model: bool,
                   params: DecodingParams | None = None, force: bool = False, max_flag_retries: int = 2,
                   price_in: float = 0.0, price_out: float = 0.0, progress: bool = True) -> BuildResult:
    """Render every English term in `lang` and back-check each rendering (see the module docstring)."""
    started = time.perf_counter()
    code = target_language(lang)
    entries = english_terms()
    jobs = term_jobs(code, entries, example_captions(entries, captions))
    prompt, retry = prompts_for(base_model)
    params = params or DecodingParams()
    report = translate_jobs(ws, jobs, backend, prompt, params, store=False, force=force,
                            max_flag_retries=max_flag_retries, price_in=price_in, price_out=price_out,
                            progress=progress, retry_prompt=retry)
    renderings = {key: r.text.strip() for key, r in report.results.items() if r.status != "failed" and r.text.strip()}
    back = Usage()
    backs = back_translate(ws, backend, code, renderings, params=params, progress=progress, usage=back, force=force)
    english = Glossary(ENGLISH_TERMS_FROM, entries)
    terms = []
    for job, entry in zip(jobs, entries, strict=True):
        result = report.results.get(job.key)
        target = renderings.get(job.key, "")
        model_check = result.reason if result is not None and result.status == "flagged" else ""
        terms.append(BuiltTerm(entry, target, back_check(entry, backs.get(job.key) if target else None, english),
                               model_check))
    spent = report.cost + cost(back.tokens_in, back.tokens_out, price_in, price_out)
    return BuildResult(code, terms, report, back, spent, time.perf_counter() - started)


def estimate_build(ws: Workspace, lang: str, backend_name: str, model: str, captions: Iterable[str], *,
                   base_model: bool, params: DecodingParams | None = None, force: bool = False,
                   price_in: float = 0.0, price_out: float = 0.0) -> tuple[Estimate, int]:
    """(tokens and cost of the requests a build would still send, terms the cache already answers);
    nothing is sent. Each pending term also costs one back-translation, counted with the English term
    standing in for the rendering it will have."""
    code = target_language(lang)
    entries = english_terms()
    jobs = term_jobs(code, entries, example_captions(entries, captions))
    prompt, retry = prompts_for(base_model)
    pending = plan_requests(ws, jobs, backend_name, model, prompt, params or DecodingParams(), force=force,
                            retry_prompt=retry)
    back_prompt = PRESETS["fewshot"] if base_model else BACK_TRANSLATION_PROMPT
    requests = []
    for r in pending.requests():
        requests.append((r.messages, r.job.source, r.answers))
        requests.append((back_prompt.render(r.job.source, "en", source_lang=code), r.job.source, r.answers))
    return estimate(requests, price_in, price_out), pending.answered


def render_tsv(result: BuildResult, backend_name: str, model: str) -> str:
    """The built glossary as a `--glossary` TSV with the `check` column; a term with no rendering is a
    commented-out line to fill in."""
    name = get_language(result.lang).name
    lines = [
        f"# tipr-bench glossary, English -> {name} ({result.lang}), drafted by `tipr-bench glossary build` with "
        f"{backend_name} {model} on {utc_now()[:10]}.",
        "# Review every row before use: fix the target (the preferred rendering first, variants after |), add",
        "# known wrong renderings, delete what you do not want. `check` says what the back-translation found;",
        "# the parser ignores it. A line starting with # is skipped: fill in and uncomment terms with no target.",
        "\t".join((*HEADER, CHECK_COLUMN)),
    ]
    for t in result.terms:
        row = "\t".join(("|".join(t.entry.aliases), _cell(t.target), "", t.entry.category, "",
                         _cell(t.check.describe(t.model_check))))
        lines.append(row if t.target else "# " + row)
    return "\n".join(lines) + "\n"


def write_built_glossary(path: Path, result: BuildResult, backend_name: str, model: str) -> None:
    write_text(path, render_tsv(result, backend_name, model))


def check_out_path(path: Path) -> Path:
    """The --out file, refused before any request if it exists (it may hold a person's review)."""
    path = Path(path).expanduser()
    if path.exists():
        raise UserError(f"--out {path} exists (a reviewed glossary?); pass another --out or delete it first")
    if path.parent.exists() and not path.parent.is_dir():
        raise UserError(f"--out {path}: {path.parent} is not a folder")
    return path


def target_language(lang: str) -> str:
    """The --lang code, refused for English (the source side)."""
    code = get_language(lang).code
    if code == "en":
        raise UserError("--lang en: English is the source side of every glossary; pass a target such as it")
    return code


def _cell(text: str) -> str:
    """One TSV cell: no tabs or line breaks, which would break the row."""
    return " ".join(text.replace("\t", " ").split())
