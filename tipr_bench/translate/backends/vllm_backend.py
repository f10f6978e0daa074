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

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tipr_bench.core.errors import UserError, brief
from tipr_bench.translate.backends.base import Completion, DecodingParams, Message
from tipr_bench.translate.backends.local_common import folder_model_id, gguf_model_id, raw_prompt

if TYPE_CHECKING:  # the record is handed in whole; this module never builds one
    from tipr_bench.translate.options import BackendOptions

RETRIED_FINISH = ("abort", "error")  # vLLM's retryable endings: asked again, never cached
RETRIES = 2
_THINK = re.compile(r"^\s*<think>.*?(</think>|$)", re.DOTALL)


def engine_model_path(model: str) -> str:
    """What vLLM is given: a local path with `~` expanded (a quoted `~` reaches us unexpanded), else a
    name vLLM resolves (`BackendOptions.validate` refused a GGUF already)."""
    path = Path(model).expanduser()
    return str(path) if path.exists() else model


class VllmBackend:
    """A BatchBackend over `vllm.LLM`. `batch_size` 0 means the runner hands over everything at once."""

    name = "vllm"

    def __init__(self, options: BackendOptions) -> None:
        """`options` is checked already (`BackendOptions.validate`): its `vllm` holds the engine settings."""
        model, settings = options.model, options.vllm
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
        self.batch_size = options.passes
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
    transformers backend and `BackendOptions.identity` give it); a name vLLM resolves is kept as given. Thinking
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
