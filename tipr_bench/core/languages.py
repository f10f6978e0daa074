"""Language codes, their English names, and the script a translation into them should use."""

from __future__ import annotations

from dataclasses import dataclass

from tipr_bench.core.errors import UserError


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str
    script: str  # "latin", "han", "cyrillic", "arabic", "kana", "hangul"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "latin"),
        Language("zh", "Chinese", "han"),
        Language("fr", "French", "latin"),
        Language("de", "German", "latin"),
        Language("ja", "Japanese", "kana"),
        Language("ko", "Korean", "hangul"),
        Language("es", "Spanish", "latin"),
        Language("ru", "Russian", "cyrillic"),
        Language("it", "Italian", "latin"),
        Language("pt", "Portuguese", "latin"),
        Language("ar", "Arabic", "arabic"),
    )
}

# The published multilingual files call Chinese "ch".
FILE_CODES = {"zh": "ch"}


def get_language(code: str) -> Language:
    code = code.strip().lower()
    if code == "ch":
        code = "zh"
    if code not in LANGUAGES:
        known = ", ".join(sorted(LANGUAGES))
        raise UserError(f"unknown language {code!r}: use one of {known}")
    return LANGUAGES[code]


def file_code(code: str) -> str:
    """The code a language has in the published `{split}_reid_{code}.json` file names."""
    return FILE_CODES.get(code, code)
