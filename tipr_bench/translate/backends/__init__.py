"""Translation backends: openai (any OpenAI-compatible server), vllm (in-process), transformers (local).

`make_backend` builds one by name. The local ones are imported only when chosen, so the openai
path never loads torch or vllm.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend

if TYPE_CHECKING:
    from tipr_bench.translate.backends.vllm_backend import VllmSettings

BACKENDS = ("openai", "vllm", "transformers")


def make_backend(
    name: str,
    model: str | None,
    *,
    base_urls: Sequence[str] = (),
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 64,
    rpm: int | None = None,
    tpm: int | None = None,
    timeout: float = 60.0,
    max_retries: int = 5,
    device: str = "auto",
    batch_size: int = 16,
    vllm: VllmSettings | None = None,
    output_langs: Sequence[str] = (),
    shortlist: int = 0,
) -> AsyncBackend | BatchBackend:
    """`vllm` holds the engine settings of the vllm backend (context length, GPUs, thinking, ...);
    `output_langs` cuts the transformers backend's output layer to those languages' scripts, and
    `shortlist` makes its greedy steps on CPU choose among that many int8-scored tokens."""
    if name == "openai":
        from tipr_bench.translate.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            model, base_urls=base_urls, api_key_env=api_key_env, concurrency=concurrency, rpm=rpm, tpm=tpm,
            timeout=timeout, max_retries=max_retries,
        )
    if name == "transformers":
        from tipr_bench.translate.backends.transformers_backend import TransformersBackend

        return TransformersBackend(model, device=device, batch_size=batch_size, output_langs=output_langs,
                                   shortlist=shortlist)
    if name == "vllm":
        if not model:
            raise UserError("the vllm backend needs --model (a local model folder or a name vLLM resolves)")
        from tipr_bench.translate.backends.vllm_backend import VllmBackend  # imports vllm only when built

        return VllmBackend(model, batch_size=batch_size, settings=vllm)
    raise UserError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")


def default_backend_name(base_urls: Sequence[str], api_key_env: str = "OPENAI_API_KEY") -> str:
    """openai when a server or an API key is given, else the offline transformers default."""
    return "openai" if base_urls or os.environ.get(api_key_env) else "transformers"


def backend_identity(name: str, model: str | None, *, thinking: bool = False) -> tuple[str, str]:
    """(backend, model id) as the cache key will see them, without loading a model: for --dry-run and
    Batch-API files. Local models are identified like the local backends do (name@digest); a vllm model
    with thinking on is another id, since its answers differ."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    if name == "openai":
        if not model:
            raise UserError("the openai backend needs --model (the name the server serves, e.g. gpt-4o-mini)")
        return name, model
    from tipr_bench.translate.backends.local_common import folder_model_id, gguf_model_id

    if name == "vllm" and model:
        from tipr_bench.translate.backends.vllm_backend import vllm_model_id

        return name, vllm_model_id(model, thinking=thinking)
    if model is None:
        if name == "vllm":
            raise UserError("the vllm backend needs --model (a local model folder or a name vLLM resolves)")
        from tipr_bench.translate.backends.gemma_default import bundled_gguf

        return name, gguf_model_id(bundled_gguf())
    path = Path(model).expanduser()
    if path.is_file():
        return name, gguf_model_id(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return name, folder_model_id(path)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return name, gguf_model_id(ggufs[0])
    return name, model
