"""What the two in-process backends (transformers, vllm) share: where models are cached, how a
conversation becomes a prompt for a base model, and a stable model id for the translation cache key.

Kept free of torch/transformers/vllm imports so either backend can use it without pulling the other in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.base import Message


def model_cache_dir() -> Path:
    """Where assembled and converted local models live (`TIPR_BENCH_CACHE` overrides ~/.cache/tipr-bench)."""
    root = os.environ.get("TIPR_BENCH_CACHE") or Path.home() / ".cache" / "tipr-bench"
    return Path(root) / "models"


# files beside a model that hold its chat template (Hugging Face, and Mistral's own formats)
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json", "tekken.json", "params.json")


def has_chat_template(model: str | Path) -> bool | None:
    """Whether a local model has a chat template, read from its files without loading it: a folder's
    template files or tokenizer_config.json, a GGUF file's metadata. None: not a local path (a hub name,
    which the serving engine resolves)."""
    path = Path(model).expanduser()
    if path.is_dir():
        config = path / "tokenizer_config.json"
        return any((path / name).is_file() for name in TEMPLATE_FILES) or (
            config.is_file() and "chat_template" in json.loads(config.read_text(encoding="utf-8")))
    if path.is_file() and path.suffix == ".gguf":
        import gguf

        return "tokenizer.chat_template" in gguf.GGUFReader(str(path)).fields
    return None


def message_text(message: Message) -> str:
    """The text of one chat message; content may be a string or a list of OpenAI-style text parts.

    A text-only model must not silently drop an image part (the refine step sends the person's image to a
    multimodal model): that is a user error naming the backends that can see images."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    kinds = {part.get("type", "text") for part in content if isinstance(part, dict)}
    if kinds - {"text"}:
        raise UserError(f"this local model reads text only, but a prompt holds {', '.join(sorted(kinds - {'text'}))} "
                        "parts: use a multimodal model through --backend vllm or openai for image prompts")
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def raw_prompt(conversation: Sequence[Message]) -> str:
    """A base model (no chat template) continues text: the messages' contents, joined by blank lines.

    The runner's few-shot preset sends one user message that already ends where the model should
    continue (e.g. "...\\nChinese:"), so the join is just that text.
    """
    return "\n\n".join(text for text in (message_text(m) for m in conversation) if text)


WEIGHT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".gguf"}
SAMPLE = 1 << 20  # bytes read at each of a weight file's start, middle and end


def folder_model_id(folder: Path) -> str:
    """`name@sha12` of a model folder: its name plus a digest of its config and tokenizer files and samples
    of its weights, so a fine-tuned checkpoint saved under the same folder name never reuses cached
    translations, while a copy of the same model does."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".json" and path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        elif path.suffix in WEIGHT_SUFFIXES and path.is_file():
            digest.update(path.name.encode() + b"\0" + _sample(path))
    return f"{folder.resolve().name}@{digest.hexdigest()[:12]}"


def gguf_model_id(path: Path) -> str:
    """`file.gguf@sha12` from samples of the file: cheap for a multi-GB file, stable across copies."""
    return f"{path.name}@{hashlib.sha256(_sample(path)).hexdigest()[:12]}"


def converted_folder(gguf: Path) -> Path:
    """Where the first load of `gguf` writes it as a float32 HF folder, which every later load reads."""
    return model_cache_dir() / "converted" / gguf_model_id(gguf).replace("@", "-")


def _sample(path: Path) -> bytes:
    """Size plus 1 MiB at the start, middle and end: any two different checkpoints differ there."""
    size = path.stat().st_size
    parts = [str(size).encode()]
    with path.open("rb") as handle:
        for offset in sorted({0, max(0, size // 2 - SAMPLE // 2), max(0, size - SAMPLE)}):
            handle.seek(offset)
            parts.append(handle.read(SAMPLE))
    return b"\0".join(parts)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text up to the earliest stop string, and whether one was found (OpenAI semantics: the stop is dropped)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
