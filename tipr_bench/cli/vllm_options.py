"""The vllm backend's engine options, shared by `translate` and `refine` so both spell them alike."""

from __future__ import annotations

from typing import Annotated

import typer

from tipr_bench.benchmark.errors import UserError
from tipr_bench.translate.backends.vllm_backend import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_MAX_MODEL_LEN,
    VllmSettings,
    parse_vllm_args,
)

MaxModelLenOption = Annotated[int, typer.Option(
    help="vllm: context the engine reserves per sequence (prompt + answer); keeps a long-context model "
         "within one GPU's memory.")]
TensorParallelOption = Annotated[int, typer.Option(help="vllm: GPUs that split each model (8 for a 70B model).")]
GpuMemoryOption = Annotated[float, typer.Option(
    help="vllm: share of each GPU's memory for the engine (vLLM's own default 0.9 leaves CometKiwi no room).")]
TrustRemoteCodeOption = Annotated[bool, typer.Option(
    "--trust-remote-code", help="vllm: run the model repository's own Python code (some models need it).")]
VllmArgOption = Annotated[list[str] | None, typer.Option(
    "--vllm-arg", help="vllm: any other engine argument as KEY=VALUE (repeatable), e.g. enforce_eager=true, "
                       "served_model_name=qwen.")]
ThinkingOption = Annotated[bool, typer.Option(
    "--thinking/--no-thinking", help="vllm: let thinking models (Qwen3-style) think first; off by default.")]
ChatModeOption = Annotated[str, typer.Option(
    help="vllm: auto (ask the engine whether it has a chat template) | chat | base (few-shot prompts).")]


def vllm_settings(max_model_len: int, tensor_parallel_size: int, gpu_memory_utilization: float,
                  trust_remote_code: bool, vllm_arg: list[str] | None, thinking: bool, chat_mode: str,
                  max_tokens: int) -> VllmSettings:
    """The options as checked settings (one-line errors before any model loads)."""
    settings = VllmSettings(max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size,
                            gpu_memory_utilization=gpu_memory_utilization, trust_remote_code=trust_remote_code,
                            thinking=thinking, chat_mode=chat_mode, extra=parse_vllm_args(vllm_arg or ()))
    if max_tokens >= max_model_len:
        raise UserError(f"--max-tokens {max_tokens} leaves no room for the prompt in --max-model-len "
                        f"{max_model_len}: raise --max-model-len or lower --max-tokens")
    return settings


__all__ = ["DEFAULT_GPU_MEMORY_UTILIZATION", "DEFAULT_MAX_MODEL_LEN", "vllm_settings"]
