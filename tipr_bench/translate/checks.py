"""Checks on a model's output: clean what is safe to clean, flag the rest with a reason.

Safe to clean: wrapping quotes, a chatter prefix ("Sure! Here is the translation:"), a trailing
note paragraph, surrounding whitespace. Failed: an empty answer, which is no translation at all (the
runner retries it, and if every attempt is empty the caption fails and is asked again on a rerun).
Flagged (the runner retries with the strict prompt): an echo of the source, a copy of the few-shot
example, the wrong script for the target language, leftover multi-line chatter, a length-ratio
outlier, truncation (finish_reason "length"), a loop the engine stopped (finish_reason "repetition").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tipr_bench.core.languages import get_language
from tipr_bench.translate.prompts import EXAMPLES, EXAMPLES2, EXAMPLES3

_SCRIPT_CHARS = {
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    "kana": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff]"),
    "hangul": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
}
_KANA = re.compile(r"[\u3040-\u30ff]")
# Letters of any script (not digits, punctuation or spaces).
_LETTER = re.compile(r"[^\W\d_]")
# The share of letters that must be in the target script.
_MIN_SHARE = {"latin": 0.8}
_DEFAULT_SHARE = 0.5
# Expected characters per character of English, by script (person descriptions); English is 1.0.
_LENGTH_RATIO = {"han": 0.33, "kana": 0.45, "hangul": 0.45, "latin": 1.15, "cyrillic": 1.1, "arabic": 0.95}
_RATIO_SPAN = 4.0  # flag below expected/4 or above expected*4
_MIN_CHECKED_SOURCE = 24  # shorter sources vary too much for a ratio check

_CHATTER = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|absolutely)\s*[!,.]?\s*)?"
    r"(?:(?:here\s+is|here's|below\s+is|this\s+is)\s+(?:the|a|your|my)\s+(?:\w+\s+){0,3}?translation"
    r"(?:\s+(?:of|in|into)\s+[^:\n]{0,60})?\s*[:：]|"
    r"(?:the\s+)?(?:\w+\s+)?translation(?:\s+is)?\s*[:：]|translated(?:\s+text)?\s*[:：]|"
    r"(?:译文|翻译|中文翻译)\s*[:：]|"
    r"(?:sure|certainly|of course|okay|ok|absolutely)\s*[!.]"
    r")\s*",
    re.IGNORECASE,
)
_NOTE = re.compile(r"\n\s*\(?\s*(?:note|notes|explanation|注|注意|说明)\s*[:：].*$", re.IGNORECASE | re.DOTALL)
_QUOTES = (('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("\u300c", "\u300d"),
           ("\u300e", "\u300f"), ("\u00ab", "\u00bb"), ("\u201e", "\u201c"), ("`", "`"))
_OPENERS = frozenset(left for left, _ in _QUOTES)
# Small base models often repeat the few-shot example's translation instead of translating.
_EXAMPLE_KEYS = frozenset(
    re.sub(r"[\W_]+", "", text).lower()
    for examples in (EXAMPLES, EXAMPLES2, EXAMPLES3) for text in examples.values()
)
_NORMALIZE = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class CheckResult:
    text: str
    status: str  # "ok", "flagged" or "failed" (an empty answer)
    reason: str  # why flagged, or what was cleaned ("cleaned: quotes"), or ""


def _unquote(text: str, source: str) -> str:
    if not text or text[0] not in _OPENERS:
        return text
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right) and not source.startswith(left):
            inner = text[len(left):-len(right)]
            if left not in inner and right not in inner:
                return inner.strip()
    return text


def script_share(text: str, script: str) -> float:
    """The share of the text's letters written in `script` (1.0 when it has no letters)."""
    letters = len(_LETTER.findall(text))
    if not letters:
        return 1.0
    return len(_SCRIPT_CHARS[script].findall(text)) / letters


def check_output(source: str, text: str, lang: str, finish_reason: str = "stop") -> CheckResult:
    """Clean `text` (a translation of `source` into `lang`) where safe, else flag it with a reason."""
    cleaned: list[str] = []
    out = text.strip()
    if finish_reason == "length":
        return CheckResult(out, "flagged", "truncated (finish_reason length)")
    if finish_reason == "repetition":
        return CheckResult(out, "flagged", "repetition (the engine stopped a looping answer)")
    if finish_reason == "content_filter":
        return CheckResult(out, "flagged", "stopped by the provider's content filter")
    chatter = _CHATTER.match(out)
    if chatter and chatter.end() and out[chatter.end():].strip():
        out = out[chatter.end():].strip()
        cleaned.append("chatter")
    if "\n" in out:
        noted = _NOTE.sub("", out).strip()
        if noted != out and noted:
            out = noted
            cleaned.append("note")
    unquoted = _unquote(out, source.strip())
    if unquoted != out:
        out = unquoted
        cleaned.append("quotes")
    reason_prefix = f"cleaned: {', '.join(cleaned)}; " if cleaned else ""
    if not out:
        return CheckResult(out, "failed", reason_prefix + "empty output")
    # an echo has about the source's length; only then is the normalised comparison worth its cost
    if 2 * len(out) > len(source) > len(out) // 2 and \
            _NORMALIZE.sub("", out).lower() == _NORMALIZE.sub("", source).lower():
        return CheckResult(out, "flagged", reason_prefix + "echo of the source")
    if _NORMALIZE.sub("", out).lower() in _EXAMPLE_KEYS and _NORMALIZE.sub("", source).lower() not in _EXAMPLE_KEYS:
        return CheckResult(out, "flagged", reason_prefix + "copy of the few-shot example")
    if "\n" in out and "\n" not in source.strip():
        return CheckResult(out, "flagged", reason_prefix + "several lines (chatter?)")
    script = get_language(lang).script
    share = script_share(out, script)
    if share < _MIN_SHARE.get(script, _DEFAULT_SHARE):
        return CheckResult(out, "flagged", reason_prefix + f"wrong script: {share:.0%} {script}")
    if script == "kana" and len(out) > 12 and not _KANA.search(out):
        return CheckResult(out, "flagged", reason_prefix + "wrong script: no kana (Chinese?)")
    if len(source) >= _MIN_CHECKED_SOURCE:
        source_script = "latin" if source.isascii() else _source_script(source)
        target_ratio = 1.0 if lang == "en" else _LENGTH_RATIO[script]
        source_ratio = 1.0 if source_script == "latin" else _LENGTH_RATIO[source_script]
        expected = target_ratio / source_ratio
        ratio = len(out) / len(source)
        if ratio < expected / _RATIO_SPAN or ratio > expected * _RATIO_SPAN:
            return CheckResult(out, "flagged", reason_prefix + f"length ratio {ratio:.2f} (expected ~{expected:.2f})")
    return CheckResult(out, "ok", f"cleaned: {', '.join(cleaned)}" if cleaned else "")


def _source_script(source: str) -> str:
    for script in ("han", "hangul", "cyrillic", "arabic"):
        if script_share(source, script) >= 0.5:
            return "kana" if script == "han" and _KANA.search(source) else script
    return "latin"
