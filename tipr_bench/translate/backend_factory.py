"""From a checked `BackendOptions` to a backend: its identity for the cache, and the backend itself.

It stands apart from the options record because the backends read that record: the record knows
nothing of them. Local backends are imported only when chosen, so the openai path never loads torch
or vllm.
"""

from __future__ import annotations

from pathlib import Path

from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend
from tipr_bench.translate.options import BackendOptions


def backend_identity(options: BackendOptions) -> tuple[str, str]:
    """(backend, model id) as the cache key will see them, without loading a model: for --dry-run and
    Batch-API files. Local models are identified like the local backends do (name@digest); a vllm model
    with thinking on is another id, since its answers differ."""
    name = options.name
    if name == "openai":
        return name, options.model
    from tipr_bench.translate.backends.local_common import folder_model_id, gguf_model_id

    if name == "vllm":
        from tipr_bench.translate.backends.vllm_backend import vllm_model_id

        return name, vllm_model_id(options.model, thinking=options.vllm.thinking)
    if options.model is None:
        from tipr_bench.translate.backends.gemma_default import bundled_gguf

        return name, gguf_model_id(bundled_gguf())
    path = Path(options.model).expanduser()
    if path.is_file():
        return name, gguf_model_id(path)
    if (path / "config.json").is_file():
        return name, folder_model_id(path)
    return name, gguf_model_id(next(path.glob("*.gguf")))  # a folder of one, as validate checked


def build_backend(options: BackendOptions) -> AsyncBackend | BatchBackend:
    """The backend itself, given the record whole: this is where a local model loads."""
    if options.name == "openai":
        from tipr_bench.translate.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(options)
    if options.name == "transformers":
        from tipr_bench.translate.backends.transformers_backend import TransformersBackend

        return TransformersBackend(options)
    from tipr_bench.translate.backends.vllm_backend import VllmBackend  # imports vllm only when built

    return VllmBackend(options)
