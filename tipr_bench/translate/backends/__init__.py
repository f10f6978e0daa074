"""Translation backends: openai (any OpenAI-compatible server), vllm (in-process), transformers (local).

`make_backend` builds one by name. The local ones are imported only when chosen, so the openai
path never loads torch or vllm.
"""

from __future__ import annotations

from collections.abc import Sequence

from tipr_bench.benchmark.errors import UserError
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend

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
) -> AsyncBackend | BatchBackend:
    if name == "openai":
        from tipr_bench.translate.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            model, base_urls=base_urls, api_key_env=api_key_env, concurrency=concurrency, rpm=rpm, tpm=tpm,
            timeout=timeout, max_retries=max_retries,
        )
    if name == "transformers":
        from tipr_bench.translate.backends.transformers_backend import TransformersBackend

        return TransformersBackend(model, device=device, batch_size=batch_size)
    if name == "vllm":
        if not model:
            raise UserError("the vllm backend needs --model (a local model folder or a name vLLM resolves)")
        try:
            from tipr_bench.translate.backends.vllm_backend import VllmBackend
        except ImportError as exc:
            raise UserError(f"the vllm backend needs vLLM ({exc}): pip install 'tipr-bench[vllm]' on a GPU machine") from exc
        return VllmBackend(model, batch_size=batch_size)
    raise UserError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
