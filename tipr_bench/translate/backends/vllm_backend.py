"""In-process vLLM: every prompt of a batch goes to the engine in one `LLM.chat` (or `LLM.generate`) call,
which schedules them with continuous batching on the GPU; the highest local throughput. vLLM is an optional
extra (`pip install 'tipr-bench[vllm]'`), imported only when this backend is built.

What a real run needs around those calls: engine settings (context length, tensor parallelism, GPU share)
so a large model starts at all; chat vs base decided the way vLLM decides (a one-prompt probe: vLLM itself
resolves the processor's, the tokenizer's or a built-in template, and Mistral tokenizers render chats
themselves); thinking turned off; and one bad prompt (too long, an undecodable image, a template error)
failing alone instead of taking its whole chunk with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tipr_bench.core.errors import UserError, brief
from tipr_bench.translate.backends.base import Completion, DecodingParams, Message
from tipr_bench.translate.backends.local_common import folder_model_id, gguf_model_id, raw_prompt

# Captions and their prompts are a few hundred tokens: 4096 leaves room for few-shot prompts and
# answers, and lets a 32k-128k context model start on a 24-48 GB card (vLLM sizes the KV cache for it).
DEFAULT_MAX_MODEL_LEN = 4096
# vLLM's own default is 0.9; 0.8 leaves room for refine's CometKiwi worker on the same GPU.
DEFAULT_GPU_MEMORY_UTILIZATION = 0.8
CHAT_MODES = ("auto", "chat", "base")
RETRIED_FINISH = ("abort", "error")  # vLLM's retryable endings: asked again, never cached
RETRIES = 2
# engine settings with their own option: --vllm-arg must not set them behind the option's back
OWN_OPTIONS = {"model": "--model", "max_model_len": "--max-model-len", "tensor_parallel_size": "--tensor-parallel-size",
               "gpu_memory_utilization": "--gpu-memory-utilization", "trust_remote_code": "--trust-remote-code"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_THINK = re.compile(r"^\s*<think>.*?(</think>|$)", re.DOTALL)


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


def engine_model_path(model: str) -> str:
    """What vLLM is given: a local path with `~` expanded (a quoted `~` reaches us unexpanded), else a
    name vLLM resolves. A GGUF file is refused: core vLLM dropped GGUF (it needs vllm-gguf-plugin and a
    separate tokenizer)."""
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf" or (path.is_dir() and not (path / "config.json").is_file()
                                                       and any(path.glob("*.gguf"))):
        raise UserError(f"--model {model}: vLLM does not load GGUF files; pass the original Hugging Face "
                        "model folder (config.json and safetensors), or use --backend transformers for a GGUF")
    return str(path) if path.exists() else model


class VllmBackend:
    """A BatchBackend over `vllm.LLM`. `batch_size` 0 means the runner hands over everything at once."""

    name = "vllm"

    def __init__(self, model: str, *, batch_size: int = 0, settings: VllmSettings | None = None) -> None:
        settings = settings or VllmSettings()
        if batch_size < 0:
            raise UserError(f"--batch-size must be 0 (all at once) or more (got {batch_size})")
        path = engine_model_path(model)
        try:
            import vllm
        except ImportError as exc:
            raise UserError(
                f"the vllm backend needs vLLM, which is not installed ({exc}): run "
                "`pip install 'tipr-bench[vllm]'` on a machine with a CUDA GPU, or use --backend transformers"
            ) from exc
        self._vllm = vllm
        self.settings = settings
        self.batch_size = batch_size
        self.model = vllm_model_id(model, thinking=settings.thinking)
        try:
            self._llm = vllm.LLM(model=path, **settings.engine_kwargs())
        except TypeError as exc:  # an engine argument vLLM does not have (EngineArgs rejects it)
            raise UserError(f"vLLM refused the engine settings ({exc}): check the --vllm-arg names against "
                            "`vllm serve --help`") from exc
        self.max_model_len = int(getattr(getattr(self._llm, "model_config", None), "max_model_len", 0)
                                 or settings.max_model_len)
        self._tokenizer = self._llm.get_tokenizer()
        # base models continue text (few-shot prompts, LLM.generate); chat models get LLM.chat
        self.uses_chat_template = settings.chat_mode == "chat" or (
            settings.chat_mode == "auto" and self._renders_chats())

    def _renders_chats(self) -> bool:
        """vLLM's own answer: it renders a chat if it finds a template anywhere (processor, tokenizer,
        built-in fallback, a Mistral tokenizer); without one it raises the 'chat template' ValueError."""
        try:
            self._llm.chat([[{"role": "user", "content": "Hello"}]],
                           sampling_params=self._vllm.SamplingParams(max_tokens=1), use_tqdm=False,
                           chat_template_kwargs=self.settings.chat_template_kwargs())
        except ValueError as exc:
            if "chat template" in str(exc):
                return False
            raise UserError(f"vLLM could not run a one-line chat with this model ({brief(exc)}); pass "
                            "--chat-mode chat or --chat-mode base to skip the probe") from exc
        return True

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], params: DecodingParams
    ) -> list[Completion]:
        if not conversations:
            return []
        sampling = self._vllm.SamplingParams(**sampling_kwargs(params))
        results: list[Completion | None] = [self._too_long(c) for c in conversations]
        for _ in range(RETRIES + 1):
            todo = [i for i, r in enumerate(results) if r is None or r.finish_reason in RETRIED_FINISH]
            if not todo:
                break
            for i, completion in zip(todo, self._isolate([conversations[i] for i in todo], sampling),
                                     strict=True):
                results[i] = completion
        return [_give_up(r) for r in results]  # the first pass filled every slot

    def _too_long(self, conversation: Sequence[Message]) -> Completion | None:
        """Refuse a prompt whose text alone reaches the engine's limit (vLLM would raise for the batch)."""
        tokens = len(self._tokenizer.encode(raw_text(conversation)))
        if tokens < self.max_model_len:
            return None
        return Completion(text="", tokens_in=tokens, failure=(
            f"prompt is {tokens} tokens, the engine holds {self.max_model_len} (--max-model-len): raise "
            "--max-model-len or shorten the prompt"))

    def _isolate(self, conversations: list[Sequence[Message]], sampling: Any) -> list[Completion]:
        """Run the prompts; if vLLM raises for the batch, halve it until each bad prompt fails alone with
        its reason (about 2 log2(n) extra calls per bad prompt). A dead engine stops the run."""
        try:
            return [completion_from(output) for output in self._run(conversations, sampling)]
        except Exception as exc:  # noqa: BLE001 - vLLM raises plain ValueError/TypeError for one bad prompt
            if _engine_dead(exc):
                raise
            if len(conversations) == 1:
                return [Completion(text="", failure=f"vLLM refused this prompt: {brief(exc)}")]
            mid = len(conversations) // 2
            return self._isolate(conversations[:mid], sampling) + self._isolate(conversations[mid:], sampling)

    def _run(self, conversations: list[Sequence[Message]], sampling: Any) -> list[Any]:
        if self.uses_chat_template:
            # messages go as they are: vLLM renders OpenAI-style parts, images included, for multimodal models
            messages = [[dict(m) for m in conversation] for conversation in conversations]
            return self._llm.chat(messages, sampling_params=sampling, use_tqdm=False, add_generation_prompt=True,
                                  chat_template_kwargs=self.settings.chat_template_kwargs())
        return self._llm.generate([raw_prompt(c) for c in conversations], sampling_params=sampling,
                                  use_tqdm=False)


def sampling_kwargs(params: DecodingParams) -> dict[str, Any]:
    """DecodingParams as `vllm.SamplingParams` keywords; temperature 0 is vLLM's greedy decoding."""
    return {"n": 1, "temperature": params.temperature, "top_p": params.top_p if params.temperature > 0 else 1.0,
            "max_tokens": params.max_tokens, "seed": params.seed, "stop": list(params.stop) or None}


def completion_from(output: Any) -> Completion:
    """A vLLM RequestOutput (one sample) as a Completion. vLLM ends a request with stop, length,
    repetition (a loop it cut), or the retryable abort and error, which are kept as they are so the
    backend asks again. A thinking model's leading <think> block is dropped (an unclosed one is all
    thought: the answer was cut)."""
    sample = output.outputs[0]
    finish = str(sample.finish_reason or "stop")
    text = sample.text
    thought = _THINK.match(text)
    if thought:
        text = text[thought.end():]
        if not thought.group(1):
            finish = "length" if finish == "stop" else finish
    return Completion(text=text.strip(), tokens_in=len(output.prompt_token_ids or ()),
                      tokens_out=len(sample.token_ids), finish_reason=finish)


def _give_up(result: Completion) -> Completion:
    """A request vLLM still aborted after the retries fails (uncached), so the next run asks again."""
    if result.finish_reason in RETRIED_FINISH:
        return Completion(text="", tokens_in=result.tokens_in, failure=(
            f"vLLM ended the request with {result.finish_reason!r} {RETRIES + 1} times; run again to retry"))
    return result


def raw_text(conversation: Sequence[Message]) -> str:
    """The text parts of a conversation (images left out): what the length check counts."""
    texts = []
    for message in conversation:
        content = message.get("content", "")
        if isinstance(content, str):
            texts.append(content)
        else:
            texts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n\n".join(texts)


def _engine_dead(exc: BaseException) -> bool:
    try:
        from vllm.v1.engine.exceptions import EngineDeadError
    except ImportError:
        return False
    return isinstance(exc, EngineDeadError)


def vllm_model_id(model: str, *, thinking: bool = False) -> str:
    """The cache's model id: a local folder is identified by its content digest (the same id the
    transformers backend and `backend_identity` give it); a name vLLM resolves is kept as given. Thinking
    changes the answers, so it is part of the id."""
    path = Path(model).expanduser()
    model_id = model
    if path.is_file():
        model_id = gguf_model_id(path)
    elif path.is_dir():
        if (path / "config.json").is_file():
            model_id = folder_model_id(path)
        else:
            ggufs = sorted(path.glob("*.gguf"))
            if len(ggufs) == 1:
                model_id = gguf_model_id(ggufs[0])
    return f"{model_id}+thinking" if thinking else model_id
