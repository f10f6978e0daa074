"""Versioned translation prompts. Each has an id and a sha256 that every translation records, so a
result can always be traced to the exact words that produced it.

Presets:
- `ldat`: the published LDAT prompt, verbatim.
- `glossary`: ldat plus the glossary terms found in the caption (refine's targeted re-translation).
- `fewshot`: two short completion-style examples for base models (the offline Gemma-3-270M default).
- `fewshot-strict`: three examples; retries a flagged few-shot answer (base models ignore instructions).
- `fewshot-glossary`: the two examples under a line of approved glossary terms (refine's rewrites on base models).
- `strict`: the stricter instruction used to retry flagged outputs of chat models.
A user template is a text file with `{source}` and `{language}` fields (and optionally `{terms}`,
`{source_language}`, `{lang}`); its id is the file name and its sha256 covers its text.

Placeholders a template may use: source, language (English name of the target), lang (its code),
source_language / source_lang (default English / en), terms, example_source, example_target,
example2_source, example2_target, example3_source, example3_target, and any extras a job carries.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import LANGUAGES

LDAT_TEMPLATE = "Please translate the English sentence '{source}' into {language}."

# Few-shot examples, one sentence per language. They are short and unlike real captions on purpose:
# with one long caption-like example, Gemma-3-270M copied the example's translation for most
# captions; with these two it copied none (bench/local_backend_speed.py).
EXAMPLE_EN = "A man in a grey coat carrying a black bag."
EXAMPLES: dict[str, str] = {
    "en": EXAMPLE_EN,
    "zh": "一个穿着灰色外套、拿着黑色包的男人。",
    "fr": "Un homme en manteau gris portant un sac noir.",
    "de": "Ein Mann in einem grauen Mantel, der eine schwarze Tasche trägt.",
    "ja": "黒いバッグを持った灰色のコートの男性。",
    "ko": "검은 가방을 든 회색 코트의 남자.",
    "es": "Un hombre con un abrigo gris que lleva una bolsa negra.",
    "ru": "Мужчина в сером пальто с чёрной сумкой.",
    "it": "Un uomo con un cappotto grigio che porta una borsa nera.",
    "pt": "Um homem de casaco cinza carregando uma bolsa preta.",
    "ar": "رجل يرتدي معطفًا رماديًا ويحمل حقيبة سوداء.",
}
EXAMPLE2_EN = "The boy wears a green t-shirt and brown shorts."
EXAMPLES2: dict[str, str] = {
    "en": EXAMPLE2_EN,
    "zh": "这个男孩穿着绿色T恤和棕色短裤。",
    "fr": "Le garçon porte un t-shirt vert et un short marron.",
    "de": "Der Junge trägt ein grünes T-Shirt und braune Shorts.",
    "ja": "その男の子は緑のTシャツと茶色の短パンを着ている。",
    "ko": "소년은 초록색 티셔츠와 갈색 반바지를 입고 있다.",
    "es": "El niño lleva una camiseta verde y pantalones cortos marrones.",
    "ru": "Мальчик одет в зелёную футболку и коричневые шорты.",
    "it": "Il ragazzo indossa una maglietta verde e pantaloncini marroni.",
    "pt": "O menino veste uma camiseta verde e bermuda marrom.",
    "ar": "يرتدي الصبي قميصًا أخضر وسروالًا قصيرًا بنيًا.",
}
# A third example for the retry prompt, so a retried caption sees a different prompt.
EXAMPLE3_EN = "A woman with long hair, wearing a white blouse and blue jeans."
EXAMPLES3: dict[str, str] = {
    "en": EXAMPLE3_EN,
    "zh": "一位长发女士，穿着白色衬衫和蓝色牛仔裤。",
    "fr": "Une femme aux cheveux longs, portant un chemisier blanc et un jean bleu.",
    "de": "Eine Frau mit langen Haaren, die eine weiße Bluse und blaue Jeans trägt.",
    "ja": "白いブラウスと青いジーンズを着た長い髪の女性。",
    "ko": "흰 블라우스와 파란 청바지를 입은 긴 머리의 여성.",
    "es": "Una mujer de pelo largo, que lleva una blusa blanca y vaqueros azules.",
    "ru": "Женщина с длинными волосами, в белой блузке и синих джинсах.",
    "it": "Una donna con i capelli lunghi, che indossa una camicetta bianca e jeans blu.",
    "pt": "Uma mulher de cabelos longos, vestindo uma blusa branca e calça jeans azul.",
    "ar": "امرأة ذات شعر طويل، ترتدي بلوزة بيضاء وبنطال جينز أزرق.",
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

    def render(self, source: str, lang: str, image_path: Path | None = None, *, source_lang: str = "en",
               **extras) -> list[dict]:
        """Chat messages for one caption from `source_lang` into `lang`, both codes as the languages helper
        normalised them where they came in ("zh"). With `image_path`, the user content becomes [text, image
        as a data URL] for multimodal models."""
        values = _values(source, lang, source_lang, extras)
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


def _name(code: str) -> str:
    """A language's English name; a code this tool does not know stands for itself."""
    return LANGUAGES[code].name if code in LANGUAGES else code


def _values(source: str, code: str, source_code: str, extras: dict) -> _Values:
    name, source_name = _name(code), _name(source_code)
    # Every known language has an example; an unknown one borrows the French example (generic fallback).
    values = _Values(
        source=source, language=name, lang=code, source_language=source_name, source_lang=source_code,
        terms="", example_source=EXAMPLES.get(source_code, EXAMPLE_EN),
        example_target=EXAMPLES.get(code, EXAMPLES["fr"]),
        example2_source=EXAMPLES2.get(source_code, EXAMPLE2_EN),
        example2_target=EXAMPLES2.get(code, EXAMPLES2["fr"]),
        example3_source=EXAMPLES3.get(source_code, EXAMPLE3_EN),
        example3_target=EXAMPLES3.get(code, EXAMPLES3["fr"]),
    )
    values.update(extras)
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
            "{source_language}: {example2_source}\n{language}: {example2_target}\n"
            "{source_language}: {source}\n{language}:",
            stop=("\n",),
        ),
        Prompt(
            "fewshot-strict",
            "Translate {source_language} to {language}, every word.\n"
            "{source_language}: {example3_source}\n{language}: {example3_target}\n"
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


def prompt_texts(extra: Iterable[Prompt] = ()) -> dict[str, str]:
    """Verbatim text of every preset (and of `extra` prompts) by sha256, so a dataset card quotes exactly
    the prompt each translation records."""
    return {p.sha256: (f"[system] {p.system}\n[user] " if p.system else "") + p.template
            for p in (*PRESETS.values(), *extra)}


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
