"""The vllm backend's engine settings (`VllmSettings`), a typed part of `BackendOptions`.

Apart from the backend so that the options record, the CLI and dry runs read them without the backend's
module; nothing here imports vLLM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tipr_bench.core.errors import UserError

# Captions and their prompts are a few hundred tokens: 4096 leaves room for few-shot prompts and
# answers, and lets a 32k-128k context model start on a 24-48 GB card (vLLM sizes the KV cache for it).
DEFAULT_MAX_MODEL_LEN = 4096
# vLLM's own default is 0.9; 0.8 leaves room for refine's CometKiwi worker on the same GPU.
DEFAULT_GPU_MEMORY_UTILIZATION = 0.8
CHAT_MODES = ("auto", "chat", "base")
# engine settings with their own option: --vllm-arg must not set them behind the option's back
OWN_OPTIONS = {"model": "--model", "max_model_len": "--max-model-len", "tensor_parallel_size": "--tensor-parallel-size",
               "gpu_memory_utilization": "--gpu-memory-utilization", "trust_remote_code": "--trust-remote-code"}
# each setting's option, in the order `--help` lists them
FLAGS = {"max_model_len": "--max-model-len", "tensor_parallel_size": "--tensor-parallel-size",
         "gpu_memory_utilization": "--gpu-memory-utilization", "trust_remote_code": "--trust-remote-code",
         "extra": "--vllm-arg", "thinking": "--thinking", "chat_mode": "--chat-mode"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class VllmSettings:
    """The engine settings users need to start a model (`LLM(...)` keywords) and how prompts are sent."""

    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    trust_remote_code: bool = False
    thinking: bool = False  # False sends chat_template_kwargs={"enable_thinking": False}
    chat_mode: str = "auto"  # auto (probe the engine) | chat | base
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)  # --vllm-arg KEY=VALUE, parsed

    def __post_init__(self) -> None:
        """Bad settings are one line each, before vLLM is imported or a model loads."""
        self.validate()

    def validate(self) -> None:
        if self.max_model_len < 16:
            raise UserError(f"--max-model-len must be at least 16 tokens, got {self.max_model_len}")
        if self.tensor_parallel_size < 1:
            raise UserError(f"--tensor-parallel-size must be 1 or more (GPUs per model), got "
                            f"{self.tensor_parallel_size}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise UserError(f"--gpu-memory-utilization is a share of each GPU's memory in (0, 1], got "
                            f"{self.gpu_memory_utilization}")
        if self.chat_mode not in CHAT_MODES:
            raise UserError(f"--chat-mode {self.chat_mode!r}: use one of {', '.join(CHAT_MODES)}")
        for key, _ in self.extra:
            if key in OWN_OPTIONS:
                raise UserError(f"--vllm-arg {key}: use {OWN_OPTIONS[key]} instead")

    def changed(self) -> list[str]:
        """The options (as typed) that differ from their defaults, in the order `--help` lists them."""
        default = VllmSettings()
        return [flag for name, flag in FLAGS.items() if getattr(self, name) != getattr(default, name)]

    def engine_kwargs(self) -> dict[str, Any]:
        """The keywords `vllm.LLM(model, ...)` gets."""
        return {"max_model_len": self.max_model_len, "tensor_parallel_size": self.tensor_parallel_size,
                "gpu_memory_utilization": self.gpu_memory_utilization,
                "trust_remote_code": self.trust_remote_code, **dict(self.extra)}

    def chat_template_kwargs(self) -> dict[str, Any] | None:
        """vLLM passes only the keywords a template uses, so this is safe for every model."""
        return None if self.thinking else {"enable_thinking": False}

    @property
    def served_model_name(self) -> str | None:
        name = dict(self.extra).get("served_model_name")
        return name[0] if isinstance(name, list) and name else name


def parse_vllm_args(pairs: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """`--vllm-arg KEY=VALUE` as engine keywords: dashes become underscores (the `vllm serve` spelling
    works too) and a JSON value (number, true/false, list, object) is decoded, else kept as text."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise UserError(f"--vllm-arg {pair!r}: write KEY=VALUE with an engine argument name, e.g. "
                            "--vllm-arg enforce_eager=true or --vllm-arg max_num_seqs=256")
        try:
            parsed[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.replace("-", "_")] = value
    return tuple(parsed.items())


def check_engine_model(model: str) -> None:
    """A GGUF file is refused: core vLLM dropped GGUF (it needs vllm-gguf-plugin and a separate tokenizer)."""
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf" or (path.is_dir() and not (path / "config.json").is_file()
                                                       and any(path.glob("*.gguf"))):
        raise UserError(f"--model {model}: vLLM does not load GGUF files; pass the original Hugging Face "
                        "model folder (config.json and safetensors), or use --backend transformers for a GGUF")
