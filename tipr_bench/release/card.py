"""The dataset card (README.md with Hugging Face YAML front matter) and what it says about provenance.

A reviewer of a machine-translated benchmark asks: which models, with which decoding parameters
and prompts, how was quality checked, and how much was flagged, rewritten or corrected by people.
The card answers from the workspace's own records, per language; nothing is typed in by hand.
"""

from __future__ import annotations

import json
from importlib import resources
from statistics import fmean
from string import Template

from tipr_bench.benchmark.refine_record import RefineRecord
from tipr_bench.core.languages import get_language
from tipr_bench.release.collect import ReleaseData
from tipr_bench.release.sources import source_of

TEMPLATE_NAME = "README.template.md"

# Prompt texts known verbatim, by prompt id (callers add exact ones keyed by sha256). The LDAT
# prompt is the published one (Bi-IRRA paper).
KNOWN_PROMPTS = {
    "ldat": "Please translate the English sentence '{source}' into {language}.",
}

FORMAT_NOTES = {
    "parquet": ("data/<lang>/<split>.parquet", "canonical rows: key, dataset, split, person_id, image_path, "
                "caption_index, lang, text, backend, model, prompt_id, prompt_sha256, verdict, provenance"),
    "jsonl": ("data/<lang>/<split>.jsonl", "the same rows as JSON lines"),
    "irra": ("irra/<lang>/reid_raw.json", "IRRA layout, one record per image {split, id, file_path, captions}; "
             "a language's record holds the captions it has"),
    "bi-irra": ("bi-irra/{code}/{split}_reid_{en,code}.json", "the published multilingual layout ({file_path, id, "
                "captions}, Chinese is `ch`), one folder per (English, target) pair as Bi-IRRA trains, "
                "index-aligned within the pair: the captions that have that translation"),
}


def load_template() -> str:
    return resources.files("tipr_bench.release").joinpath("templates", TEMPLATE_NAME).read_text("utf-8")


# -- YAML front matter ---------------------------------------------------------------------------

def _yaml(value, indent: int = 0) -> list[str]:
    """A tiny YAML emitter for dicts, lists, strings and numbers; strings are JSON-quoted (valid YAML)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{k}:")
                lines.extend(_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub = _yaml(item, indent + 2)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict | list):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v), ensure_ascii=False)


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def front_matter(name: str, data: ReleaseData, data_files: dict[str, dict[str, str]]) -> dict:
    source = source_of(data.dataset)
    creators = []
    if "en" in data.languages:
        creators.append("crowdsourced")
    if any(data.stats[lang].machine for lang in data.languages if lang != "en"):
        creators.append("machine-generated")
    if any(data.stats[lang].human for lang in data.languages if lang != "en"):
        creators.append("expert-generated")
    if any(data.stats[lang].source_provenance for lang in data.languages if lang != "en"):
        creators.append("found")
    configs = []
    for i, lang in enumerate(data.languages):
        config = {"config_name": lang,
                  "data_files": [{"split": s, "path": p} for s, p in data_files.get(lang, {}).items()]}
        if i == 0:
            config["default"] = True
        configs.append(config)
    total = sum(st.exported for st in data.stats.values())
    return {
        "pretty_name": f"{name} ({source.name}, {', '.join(data.languages)})",
        "license": "other",
        "license_name": f"{data.dataset}-source-terms",
        "language": list(data.languages),
        "language_creators": creators or ["machine-generated"],
        "multilinguality": "multilingual" if len(data.languages) > 1 else "monolingual",
        "size_categories": [_size_category(total)],
        "source_datasets": [f"extended|{data.dataset}"],
        "task_categories": ["text-retrieval"],
        "tags": ["text-to-image-retrieval", "person-retrieval", "text-based-person-search",
                 "machine-translation", data.dataset],
        "configs": configs,
    }


# -- body sections -------------------------------------------------------------------------------

def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def counts_table(data: ReleaseData) -> str:
    head = "| language | " + " | ".join(data.splits) + " | total | missing |"
    rule = "|---" * (len(data.splits) + 3) + "|"
    rows = [head, rule]
    for lang in data.languages:
        st = data.stats[lang]
        cells = " | ".join(str(st.per_split.get(s, 0)) for s in data.splits)
        rows.append(f"| {lang} ({get_language(lang).name}) | {cells} | {st.exported} | "
                    f"{st.source_captions - st.exported} |")
    return "\n".join(rows)


def missing_note(data: ReleaseData, bi_irra_left_out: dict[str, dict[str, int]] | None) -> str:
    reasons = "never translated, translation failed" + ("" if data.include_flagged else ", or flagged by QA")
    notes = [
        "A caption without an exported translation in a language is absent from that language's files "
        f"(counted under *missing*: {reasons}). No English text ever stands in for a missing translation.",
        "",
    ]
    for lang in data.languages:
        st = data.stats[lang]
        if lang != "en" and st.source_captions - st.exported:
            notes.append(f"- {lang}: {st.missing} never translated, {st.excluded_failed} failed, "
                         f"{st.excluded_flagged} flagged and left out.")
    left = {lang: by for lang, by in (bi_irra_left_out or {}).items() if sum(by.values())}
    if left:
        notes.append("")
        notes.append("Each Bi-IRRA pair folder keeps the English captions that have that translation; left out:")
        notes.extend(f"- en-{lang}: {sum(by.values())} ({', '.join(f'{s}: {n}' for s, n in by.items())})"
                     for lang, by in left.items())
    return "\n".join(notes)


def provenance_section(data: ReleaseData, prompt_texts: dict[str, str], records: list[RefineRecord]) -> str:
    out: list[str] = []
    for lang in data.languages:
        st = data.stats[lang]
        name = get_language(lang).name
        if lang == "en":
            out.append(f"### en ({name})\n\nThe source captions of {source_of(data.dataset).name}, unchanged.\n")
            continue
        out.append(f"### {lang} ({name})\n")
        out.append(f"{st.translations} translations in scope: machine {st.machine}, human {st.human}, "
                   f"from the source dataset {st.source_provenance}.\n")
        if st.models:
            out.append("| backend | model | decoding parameters | translations |\n|---|---|---|---|")
            for (backend, model, params), n in sorted(st.models.items()):
                out.append(f"| {backend} | {model} | `{params}` | {n} |")
            out.append("")
        if st.prompts:
            out.append("| prompt id | prompt sha256 | translations |\n|---|---|---|")
            for (pid, sha), n in sorted(st.prompts.items()):
                out.append(f"| {pid or '-'} | `{sha or '-'}` | {n} |")
            out.append("")
            for (pid, sha), _ in sorted(st.prompts.items()):
                if sha and sha in prompt_texts:
                    text, how = prompt_texts[sha], "identified by its recorded sha256"
                elif pid in prompt_texts:
                    text, how = prompt_texts[pid], "known by its prompt id; the recorded sha256 was not matched " \
                                                    "to a known text"
                else:
                    if pid and pid != "source":
                        out.append(f"Prompt `{pid}`: its text is not known to this tool; the sha256 above "
                                   "identifies it.\n")
                    continue
                out.append(f"Prompt `{pid}` verbatim ({how}):\n\n```text\n{text}\n```\n")
        recorded = [f"`{g}` ({n} translations)" for g, n in sorted(st.glossary.items())]
        recorded += [f"`{r.glossary_version}` (refine of {r.scope})" for r in records if r.lang == lang]
        out.append("Glossary: " + (", ".join(recorded) if recorded else "no glossary version was recorded."))
        out.append("")
    return "\n".join(out).strip()


def quality_section(data: ReleaseData, records: list[RefineRecord]) -> str:
    out = ["| language | QA records | verdicts | flagged | rewritten | human-reviewed | mean QE | "
           "LDAT theta | mean chrF |", "|---|---|---|---|---|---|---|---|---|"]
    for lang in data.languages:
        if lang == "en":
            continue
        st = data.stats[lang]
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(st.verdicts.items())) or "-"
        qe = f"{fmean(st.qe_scores):.3f}" if st.qe_scores else "-"
        theta = recorded_theta(records, lang) or \
            (f"{round(fmean(1 - q for q in st.qe_scores), 2):.2f} (computed)" if st.qe_scores else "-")
        chrf = f"{fmean(st.chrf_scores):.1f}" if st.chrf_scores else "-"
        out.append(f"| {lang} | {st.qa_records} | {verdicts} | {_pct(st.flagged, st.translations)} | "
                   f"{_pct(st.rewritten, st.translations)} | {_pct(st.human, st.translations)} | {qe} | "
                   f"{theta} | {chrf} |")
    out.append("")
    out.append("*flagged*: translations whose status is flagged; *rewritten*: text replaced by a refine "
               "round (also when a person later approved or corrected it); *human-reviewed*: corrected or "
               "confirmed by a person (provenance human). *mean QE* and *mean chrF*: over each translation's "
               "latest scored QA round (a review round adds no scores). *LDAT theta*: the threshold refine "
               "recorded (the mean noise, 1 - QE score, rounded to two decimals, unless set by hand), the "
               "noise the LDAT recipe keeps translations under; *(computed)* when none was recorded. "
               "Percentages are of the translations in scope.")
    out.append("")
    out.extend(refine_settings_lines(data, records))
    flagged = "included (--include-flagged)" if data.include_flagged else "left out"
    out.append(f"\nFlagged translations are {flagged} in this release; failed ones are always left out.")
    return "\n".join(out)


def recorded_theta(records: list[RefineRecord], lang: str) -> str:
    """The QE thresholds refine recorded for `lang`, one per selection it judged."""
    return " / ".join(dict.fromkeys(f"{r.qe_threshold:.2f}" for r in records if r.lang == lang))


def refine_settings_lines(data: ReleaseData, records: list[RefineRecord]) -> list[str]:
    """Each refine record: its signature, the checks that ran and the metric signatures; and one line per
    language with QA verdicts but no record (refined by an earlier tipr-bench)."""
    if records:
        out = ["Refine settings recorded in the workspace, one signature per language and selection:\n"]
    else:
        out = ["No refine settings were recorded in the workspace (the LDAT theta column is computed from the "
               "recorded QE scores)."]
    for r in records:
        out.append(f"- {r.scope}: `{r.signature}`")
        out.append(f"  - checks: {'; '.join(r.check_descriptions)}")
        out.extend(f"  - {name}: `{sig}`" for name, sig in sorted(r.metric_signatures.items()))
    recorded = {r.lang for r in records}
    out.extend(f"\n{lang}: QA verdicts but no refine record (an earlier tipr-bench kept its settings as loose "
               f"`qa.{lang}.*` strings, which this version does not read): run `tipr-bench refine --lang {lang}` "
               "again to record them." for lang in data.languages
               if lang != "en" and data.stats[lang].qa_records and lang not in recorded)
    return out


def licence_section(data: ReleaseData) -> str:
    source = source_of(data.dataset)
    return (f"Derived from **{source.name}** ({source.paper}); {source.terms}. The translations inherit those "
            "terms (`license: other`): use them for non-commercial research and obtain the images from the "
            "source dataset's authors. This release redistributes no images.")


def render_card(name: str, version: str, created_at: str, tool_version: str, data: ReleaseData,
                data_files: dict[str, dict[str, str]], formats: list[str], prompt_texts: dict[str, str],
                records: list[RefineRecord], bi_irra_left_out: dict[str, dict[str, int]] | None) -> str:
    source = source_of(data.dataset)
    fm = "\n".join(_yaml(front_matter(name, data, data_files)))
    summary = (f"{source.name} captions in {', '.join(get_language(lang).name for lang in data.languages)}: "
               f"{sum(st.exported for st in data.stats.values())} captions over splits "
               f"{', '.join(data.splits)}, made with tipr-bench.")
    formats_table = "\n".join(f"| {f} | `{FORMAT_NOTES[f][0]}` | {FORMAT_NOTES[f][1]} |" for f in formats)
    return Template(load_template()).substitute(
        front_matter=fm, title=f"{name} {version}", summary=summary, name=name, version=version,
        counts_table=counts_table(data), missing_note=missing_note(data, bi_irra_left_out),
        formats_table=formats_table, licence=licence_section(data),
        provenance=provenance_section(data, prompt_texts, records), quality=quality_section(data, records),
        created_at=created_at, tool_version=tool_version, dataset=data.dataset,
        citation_sources=f" ({source.paper})",
    )
