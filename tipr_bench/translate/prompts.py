"""Versioned translation prompts. Each has an id and a sha256 that every translation records, so a
result can always be traced to the exact words that produced it.

Presets:
- `ldat`: the published LDAT prompt, verbatim.
- `glossary`: ldat plus the glossary terms found in the caption (refine's targeted re-translation).
- `fewshot`: one completion-style example for base models (the offline Gemma-3-270M default).
- `fewshot-strict`: two examples; retries a flagged few-shot answer (base models ignore instructions).
- `fewshot-glossary`: `fewshot-strict` with the approved glossary terms, for refine's rewrites on base models.
- `strict`: the stricter instruction used to retry flagged outputs of chat models.
A user template is a text file with `{source}` and `{language}` fields (and optionally `{terms}`,
`{source_language}`, `{lang}`); its id is the file name and its sha256 covers its text.

Placeholders a template may use: source, language (English name of the target), lang (its code),
source_language / source_lang (default English / en), terms, example_source, example_target,
example2_source, example2_target, and any extras a job carries.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import string
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.errors import UserError
from tipr_bench.benchmark.languages import LANGUAGES

LDAT_TEMPLATE = "Please translate the English sentence '{source}' into {language}."

# One example per language pair for the few-shot prompt: a typical person description.
EXAMPLE_EN = "A woman with long black hair, wearing a red jacket, blue jeans and white shoes."
EXAMPLES: dict[str, str] = {
    "en": EXAMPLE_EN,
    "zh": "一位留着黑色长发的女士，穿着红色夹克、蓝色牛仔裤和白色鞋子。",
    "fr": "Une femme aux longs cheveux noirs, portant une veste rouge, un jean bleu et des chaussures blanches.",
    "de": "Eine Frau mit langen schwarzen Haaren, die eine rote Jacke, blaue Jeans und weiße Schuhe trägt.",
    "ja": "長い黒髪の女性で、赤いジャケット、青いジーンズ、白い靴を身に着けている。",
    "ko": "긴 검은 머리의 여성으로, 빨간 재킷, 파란 청바지, 흰 신발을 착용하고 있다.",
    "es": "Una mujer de pelo largo y negro, que lleva una chaqueta roja, vaqueros azules y zapatos blancos.",
    "ru": "Женщина с длинными чёрными волосами, в красной куртке, синих джинсах и белой обуви.",
    "it": "Una donna con lunghi capelli neri, che indossa una giacca rossa, jeans blu e scarpe bianche.",
    "pt": "Uma mulher de cabelos longos e pretos, vestindo uma jaqueta vermelha, calça jeans azul e sapatos brancos.",
    "ar": "امرأة ذات شعر أسود طويل، ترتدي سترة حمراء وبنطال جينز أزرق وحذاءً أبيض.",
}

# A second, different example: the retry prompt for base models shows both, so that a model that
# copied the first example is shown that examples are not answers.
EXAMPLE2_EN = "A man in a grey T-shirt and black shorts, carrying a blue backpack."
EXAMPLES2: dict[str, str] = {
    "en": EXAMPLE2_EN,
    "zh": "一名男子，穿着灰色T恤和黑色短裤，背着一个蓝色背包。",
    "fr": "Un homme en t-shirt gris et short noir, portant un sac à dos bleu.",
    "de": "Ein Mann in grauem T-Shirt und schwarzen Shorts, der einen blauen Rucksack trägt.",
    "ja": "灰色のTシャツに黒いショートパンツの男性で、青いリュックを背負っている。",
    "ko": "회색 티셔츠와 검은 반바지를 입고 파란 배낭을 멘 남자.",
    "es": "Un hombre con camiseta gris y pantalones cortos negros, que lleva una mochila azul.",
    "ru": "Мужчина в серой футболке и чёрных шортах, с синим рюкзаком.",
    "it": "Un uomo con una maglietta grigia e pantaloncini neri, che porta uno zaino blu.",
    "pt": "Um homem de camiseta cinza e bermuda preta, carregando uma mochila azul.",
    "ar": "رجل يرتدي قميصًا رماديًا وسروالًا قصيرًا أسود، ويحمل حقيبة ظهر زرقاء.",
}


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    template: str
    system: str | None = None
    stop: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return _prompt_sha(self.id, self.system or "", self.template)

    def fields(self) -> set[str]:
        names = {f for _, f, _, _ in string.Formatter().parse(self.template) if f}
        if self.system:
            names |= {f for _, f, _, _ in string.Formatter().parse(self.system) if f}
        return names

    def render(self, source: str, language: str, image_path: Path | None = None, **extras) -> list[dict]:
        """Chat messages for one caption. `language` is a code ("zh") or an English name ("Chinese").
        With `image_path`, the user content becomes [text, image as a data URL] for multimodal models."""
        values = _values(source, language, extras)
        try:
            text = self.template.format_map(values)
            system = self.system.format_map(values) if self.system else None
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                f"prompt {self.id!r} needs a field the job does not provide ({exc}): use only "
                "{source}, {language}, {lang}, {source_language}, {terms} or a job extra"
            ) from None
        messages: list[dict] = [{"role": "system", "content": system}] if system else []
        if image_path is not None:
            messages.append({"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": image_data_url(image_path)}},
            ]})
        else:
            messages.append({"role": "user", "content": text})
        return messages


@functools.lru_cache(maxsize=64)
def _prompt_sha(prompt_id: str, system: str, template: str) -> str:
    return hashlib.sha256("\x1f".join((prompt_id, system, template)).encode()).hexdigest()


class _Values(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def _name_and_code(language: str) -> tuple[str, str]:
    code = language.strip().lower()
    if code == "ch":
        code = "zh"
    if code in LANGUAGES:
        return LANGUAGES[code].name, code
    for lang in LANGUAGES.values():
        if lang.name.lower() == code:
            return lang.name, lang.code
    return language, language


def _values(source: str, language: str, extras: dict) -> _Values:
    name, code = _name_and_code(language)
    source_name, source_code = _name_and_code(str(extras.get("source_lang", "en")))
    # Every known language has an example; an unknown one borrows the French example (generic fallback).
    values = _Values(
        source=source, language=name, lang=code, source_language=source_name, source_lang=source_code,
        terms="", example_source=EXAMPLES.get(source_code, EXAMPLE_EN),
        example_target=EXAMPLES.get(code, EXAMPLES["fr"]),
        example2_source=EXAMPLES2.get(source_code, EXAMPLE2_EN),
        example2_target=EXAMPLES2.get(code, EXAMPLES2["fr"]),
    )
    values.update({k: v for k, v in extras.items() if k not in ("source_lang",)})
    return values


def image_data_url(path: Path) -> str:
    """The image as a base64 data URL (what OpenAI-compatible vision endpoints accept)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read image {path}: {exc.strerror}; check the dataset's image_root") from None
    mime = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(path.suffix.lower(), "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


PRESETS: dict[str, Prompt] = {
    p.id: p
    for p in (
        Prompt("ldat", LDAT_TEMPLATE),
        Prompt(
            "glossary",
            LDAT_TEMPLATE + " Use these terms: {terms}.",
        ),
        Prompt(
            "fewshot",
            "Translate {source_language} to {language}.\n"
            "{source_language}: {example_source}\n{language}: {example_target}\n"
            "{source_language}: {source}\n{language}:",
            stop=("\n",),
        ),
        Prompt(
            "fewshot-strict",
            "Translate {source_language} to {language}.\n"
            "{source_language}: {example_source}\n{language}: {example_target}\n"
            "{source_language}: {example2_source}\n{language}: {example2_target}\n"
            "{source_language}: {source}\n{language}:",
            stop=("\n",),
        ),
        Prompt(
            "fewshot-glossary",
            "Translate {source_language} to {language}. Glossary: {terms}.\n"
            "{source_language}: {example_source}\n{language}: {example_target}\n"
            "{source_language}: {example2_source}\n{language}: {example2_target}\n"
            "{source_language}: {source}\n{language}:",
            stop=("\n",),
        ),
        Prompt(
            "strict",
            "Translate the following {source_language} text into {language}. Output only the translation, "
            "in {language}, as one line: no quotes, no notes, no explanations.\n\n{source}",
            system="You are a professional translator of person descriptions. You reply with the translation only.",
        ),
    )
}


def completion_style(backend) -> bool:
    """True for base models (no chat template): they continue text rather than follow instructions,
    so every instruction prompt has to become a few-shot completion prompt for them."""
    return getattr(backend, "uses_chat_template", True) is False


def default_prompt(backend) -> Prompt:
    """`fewshot` for base models, the published `ldat` prompt for chat models and servers."""
    return PRESETS["fewshot"] if completion_style(backend) else PRESETS["ldat"]


def retry_prompt_for(prompt: Prompt) -> Prompt:
    """The stricter prompt that retries a flagged answer: for completion-style few-shot prompts (base
    models, which ignore instructions) the two-example few-shot form, else the `strict` instruction."""
    return PRESETS["fewshot-strict"] if prompt.id.startswith("fewshot") else PRESETS["strict"]


def get_prompt(name_or_path: str | Path) -> Prompt:
    """A preset by id, or a user template read from a file (needs `{source}` and `{language}`)."""
    name = str(name_or_path)
    if name in PRESETS:
        return PRESETS[name]
    path = Path(name)
    if not path.is_file():
        raise UserError(
            f"unknown prompt {name!r}: use one of {', '.join(PRESETS)} or the path of a template file"
        )
    try:
        template = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read prompt template {path}: {exc}; save it as UTF-8 text") from None
    prompt = Prompt(f"file:{path.name}", template)
    try:
        missing = {"source", "language"} - prompt.fields()
    except ValueError as exc:
        raise UserError(f"prompt template {path} is not a valid format string ({exc}); "
                        "double literal braces as {{ and }}") from None
    if missing:
        raise UserError(
            f"prompt template {path} lacks {', '.join('{' + m + '}' for m in sorted(missing))}: "
            "add them where the caption and the target language go"
        )
    return prompt
