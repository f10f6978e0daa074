"""In-process vLLM: every prompt of a batch goes to the engine in one `LLM.chat` call, which schedules them
with continuous batching on the GPU; the highest local throughput. vLLM is an optional extra
(`pip install 'tipr-bench[vllm]'`), imported only when this backend is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tipr_bench.benchmark.errors import UserError
from tipr_bench.translate.backends.base import Completion, DecodingParams, Message
from tipr_bench.translate.backends.local_common import folder_model_id, gguf_model_id, raw_prompt


class VllmBackend:
    """A BatchBackend over `vllm.LLM`. `batch_size` 0 means the runner hands over everything at once."""

    name = "vllm"

    def __init__(self, model: str, *, batch_size: int = 0, **engine_kwargs: Any) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise UserError(
                f"the vllm backend needs vLLM, which is not installed ({exc}): run "
                "`pip install 'tipr-bench[vllm]'` on a machine with a CUDA GPU, or use --backend transformers"
            ) from exc
        if batch_size < 0:
            raise UserError(f"--batch-size must be 0 (all at once) or more (got {batch_size})")
        self._vllm = vllm
        self.batch_size = batch_size
        self.model = vllm_model_id(model)
        self._llm = vllm.LLM(model=model, **engine_kwargs)
        tokenizer = self._llm.get_tokenizer()
        # base models have no chat template: send them the raw completion prompt (like the transformers
        # backend), since recent vLLM refuses to invent a template
        self.uses_chat_template = bool(getattr(tokenizer, "chat_template", None))

    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], params: DecodingParams
    ) -> list[Completion]:
        if not conversations:
            return []
        sampling = self._vllm.SamplingParams(**sampling_kwargs(params))
        if self.uses_chat_template:
            # messages go as they are: vLLM renders OpenAI-style parts, images included, for multimodal models
            messages = [[dict(m) for m in conversation] for conversation in conversations]
            outputs = self._llm.chat(messages, sampling_params=sampling, use_tqdm=False,
                                     add_generation_prompt=True)
        else:
            outputs = self._llm.generate([raw_prompt(c) for c in conversations], sampling_params=sampling,
                                         use_tqdm=False)
        return [completion_from(output) for output in outputs]


def sampling_kwargs(params: DecodingParams) -> dict[str, Any]:
    """DecodingParams as `vllm.SamplingParams` keywords; temperature 0 is vLLM's greedy decoding."""
    return {"n": 1, "temperature": params.temperature, "top_p": params.top_p if params.temperature > 0 else 1.0,
            "max_tokens": params.max_tokens, "seed": params.seed, "stop": list(params.stop) or None}


def completion_from(output: Any) -> Completion:
    """A vLLM RequestOutput (one sample) as a Completion; an aborted request counts as truncated."""
    sample = output.outputs[0]
    finish = "stop" if sample.finish_reason == "stop" else "length"
    return Completion(text=sample.text.strip(), tokens_in=len(output.prompt_token_ids or ()),
                      tokens_out=len(sample.token_ids), finish_reason=finish)


def vllm_model_id(model: str) -> str:
    """The cache's model id: a local folder or GGUF is identified by its content digest (the same id the
    transformers backend and `backend_identity` give it); a name vLLM resolves is kept as given."""
    path = Path(model).expanduser()
    if path.is_file():
        return gguf_model_id(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return folder_model_id(path)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return gguf_model_id(ggufs[0])
    return model
