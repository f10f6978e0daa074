"""A stand-in for vLLM's offline API, for machines without a GPU (vLLM itself cannot be installed there).

It keeps current vLLM's names and signatures (`LLM(model, *, ..., **engine_kwargs)`, `LLM.chat`,
`LLM.generate`, `LLM.get_tokenizer`, `LLM.model_config.max_model_len`, `SamplingParams`, `RequestOutput`,
`CompletionOutput`) and its behaviour where the backend depends on it:
- an engine keyword EngineArgs does not have is a TypeError; max_model_len above the model's context and a
  GPU share outside (0, 1] are ValueErrors;
- the chat template is the one given, else the tokenizer's; without one `chat` raises vLLM's ValueError
  ("... must provide a chat template ..."); `tokenizer_mode="mistral"` (or a tekken.json in the folder)
  gives a Mistral-style tokenizer with no `chat_template` that renders chats itself;
- `chat_template_kwargs` reach the template; a template's `raise_exception` becomes a ValueError;
- `image_url` parts must be decodable images (data URLs), each becomes an `<image>` placeholder;
- one prompt at or over max_model_len makes the whole call raise, as vLLM's input validation does.
Decoding is real: a transformers causal LM (the tests' tiny Llama) on CPU, greedy or seeded sampling, stop
strings cut and reported as vLLM does. vLLM's rare endings (abort, error, repetition) cannot be provoked
on a CPU, so `FAULTS` maps a prompt substring to the finish reasons its next calls end with.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import AutoModelForCausalLM, AutoTokenizer

from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import SamplingParams

__all__ = ["LLM", "SamplingParams", "RequestOutput", "CompletionOutput"]

ENGINES: list[LLM] = []  # every engine built, newest last: tests read its engine_args
FAULTS: dict[str, list[str]] = {}  # prompt substring -> finish reasons for its next calls

# EngineArgs fields that LLM takes through **kwargs (a subset of vLLM's; any other name is a TypeError)
ENGINE_ARGS = {
    "max_model_len", "served_model_name", "max_num_seqs", "max_num_batched_tokens", "enable_prefix_caching",
    "kv_cache_dtype", "download_dir", "load_format", "pipeline_parallel_size", "limit_mm_per_prompt",
    "distributed_executor_backend", "disable_log_stats", "enable_chunked_prefill", "max_logprobs",
    "generation_config", "override_generation_config", "reasoning_parser", "tokenizer_pool_size",
}
NO_TEMPLATE = ("As of transformers v4.44, default chat template is no longer allowed, so you must provide a "
               "chat template if the tokenizer does not define one.")


class ModelConfig:
    def __init__(self, max_model_len: int):
        self.max_model_len = max_model_len


class MistralTokenizer:
    """Like vLLM's MistralTokenizer: no `chat_template`; chats are rendered by the tokenizer itself."""

    is_tekken = True

    def __init__(self, hf_tokenizer):
        self._hf = hf_tokenizer
        self.eos_token_id = hf_tokenizer.eos_token_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._hf.encode(text, add_special_tokens=add_special_tokens)

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self._hf.decode(ids, skip_special_tokens=skip_special_tokens)

    def render(self, messages: list[dict]) -> str:
        return "".join(f"[INST]{m['content']}[/INST]" if m["role"] != "assistant" else m["content"]
                       for m in messages)


class LLM:
    def __init__(self, model: str, *, runner: str = "auto", convert: str = "auto", tokenizer: str | None = None,
                 tokenizer_mode: str = "auto", skip_tokenizer_init: bool = False, trust_remote_code: bool = False,
                 allowed_local_media_path: str = "", allowed_media_domains: list[str] | None = None,
                 tensor_parallel_size: int = 1, dtype: str = "auto", quantization: str | None = None,
                 revision: str | None = None, tokenizer_revision: str | None = None, seed: int = 0,
                 gpu_memory_utilization: float = 0.9, swap_space: float = 4, cpu_offload_gb: float = 0,
                 enforce_eager: bool = False, disable_custom_all_reduce: bool = False,
                 hf_token: bool | str | None = None, hf_overrides: Any = None,
                 mm_processor_kwargs: dict[str, Any] | None = None, compilation_config: Any = None,
                 **kwargs: Any) -> None:
        for key in kwargs:
            if key not in ENGINE_ARGS:
                raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument '{key}'")
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(f"GPU memory utilization must be within (0, 1]. Got {gpu_memory_utilization}.")
        folder = Path(model)
        if not (folder / "config.json").is_file():
            raise ValueError(f"Invalid repository ID or local directory specified: '{model}'.")
        self.engine_args = {"model": model, "tokenizer_mode": tokenizer_mode, "trust_remote_code": trust_remote_code,
                            "tensor_parallel_size": tensor_parallel_size,
                            "gpu_memory_utilization": gpu_memory_utilization, "seed": seed,
                            "enforce_eager": enforce_eager, **kwargs}
        self._model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=trust_remote_code).eval()
        derived = int(self._model.config.max_position_embeddings)
        max_model_len = kwargs.get("max_model_len") or derived
        if max_model_len > derived:
            raise ValueError(f"User-specified max_model_len ({max_model_len}) is greater than the derived "
                             f"max_model_len (max_position_embeddings={derived} in model's config.json).")
        self.model_config = ModelConfig(int(max_model_len))
        hf = AutoTokenizer.from_pretrained(tokenizer or folder, trust_remote_code=trust_remote_code)
        mistral = tokenizer_mode == "mistral" or (tokenizer_mode == "auto" and (folder / "tekken.json").is_file())
        self._tokenizer = MistralTokenizer(hf) if mistral else hf
        self._requests = itertools.count()
        self.images_loaded = 0
        self.calls = 0  # chat/generate calls, probes included
        self.prompts_seen: list[str] = []  # every prompt text that passed validation, in order
        ENGINES.append(self)

    def get_tokenizer(self):
        return self._tokenizer

    def chat(self, messages, sampling_params: SamplingParams | list[SamplingParams] | None = None,
             use_tqdm: bool = True, lora_request: Any = None, chat_template: str | None = None,
             chat_template_content_format: str = "auto", add_generation_prompt: bool = True,
             continue_final_message: bool = False, tools: list[dict[str, Any]] | None = None,
             chat_template_kwargs: dict[str, Any] | None = None, tokenization_kwargs: dict[str, Any] | None = None,
             mm_processor_kwargs: dict[str, Any] | None = None) -> list[RequestOutput]:
        conversations = [messages] if messages and isinstance(messages[0], dict) else list(messages)
        prompts = []
        for conversation in conversations:
            flat = [{"role": m["role"], "content": self._content(m["content"])} for m in conversation]
            if isinstance(self._tokenizer, MistralTokenizer):
                text = self._tokenizer.render(flat)
            else:
                template = chat_template or getattr(self._tokenizer, "chat_template", None)
                if template is None:
                    raise ValueError(NO_TEMPLATE)
                try:
                    text = self._tokenizer.apply_chat_template(
                        flat, chat_template=template, add_generation_prompt=add_generation_prompt, tokenize=False,
                        **(chat_template_kwargs or {}))
                except Exception as exc:  # vLLM wraps the template's own errors the same way
                    raise ValueError(str(exc)) from exc
            prompts.append({"prompt": text,
                            "prompt_token_ids": self._tokenizer.encode(text, add_special_tokens=False)})
        return self.generate(prompts, sampling_params, use_tqdm=use_tqdm)

    def generate(self, prompts, sampling_params: SamplingParams | list[SamplingParams] | None = None, *,
                 use_tqdm: bool = True, lora_request: Any = None, priority: list[int] | None = None,
                 tokenization_kwargs: dict[str, Any] | None = None) -> list[RequestOutput]:
        self.calls += 1
        params = sampling_params or SamplingParams()
        batch = [prompts] if isinstance(prompts, str | dict) else list(prompts)
        encoded = []
        for prompt in batch:  # validation first: one bad prompt fails the whole call, as in vLLM
            text = prompt if isinstance(prompt, str) else prompt.get("prompt")
            ids = self._tokenizer.encode(text) if isinstance(prompt, str) else list(prompt["prompt_token_ids"])
            if len(ids) >= self.model_config.max_model_len:
                raise ValueError(f"The decoder prompt (length {len(ids)}) is longer than the maximum model length "
                                 f"of {self.model_config.max_model_len}. Make sure that `max_model_len` is no "
                                 "smaller than the number of text tokens.")
            encoded.append((text, ids))
        self.prompts_seen.extend(text if text is not None else self._tokenizer.decode(ids) for text, ids in encoded)
        return [self._one(text, ids, params) for text, ids in encoded]

    def _content(self, content) -> str:
        if isinstance(content, str):
            return content
        pieces = []
        for part in content:
            if part.get("type") == "text":
                pieces.append(part["text"])
            elif part.get("type") == "image_url":
                self._load_image(part["image_url"]["url"])
                pieces.append("<image>")
            else:
                raise ValueError(f"Unknown part type: {part.get('type')}")
        return "".join(pieces)

    def _load_image(self, url: str) -> None:
        if not url.startswith("data:"):
            raise ValueError(f"this stand-in reads data URLs only, got {url[:40]}")
        try:
            Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True))).load()
        except (OSError, ValueError, binascii.Error) as exc:
            raise ValueError(f"Failed to load image from data URL: {exc}") from exc
        self.images_loaded += 1

    def _one(self, text: str | None, ids: list[int], params: SamplingParams) -> RequestOutput:
        request_id = str(next(self._requests))
        shown = text if text is not None else self._tokenizer.decode(ids)
        fault = next((reasons.pop(0) for key, reasons in FAULTS.items() if key in shown and reasons), None)
        if fault is not None:
            sample = CompletionOutput(0, "", [], None, None, finish_reason=fault)
            return RequestOutput(request_id, text, ids, None, [sample], True)
        budget = min(params.max_tokens or 16, self.model_config.max_model_len - len(ids))
        if params.seed is not None:
            torch.manual_seed(params.seed)
        sampled = params.temperature > 0
        with torch.no_grad():
            out = self._model.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=budget, do_sample=sampled, temperature=params.temperature if sampled else None,
                top_p=params.top_p if sampled else None, top_k=None,
                pad_token_id=self._model.config.pad_token_id)
        new = out[0, len(ids):].tolist()
        eos = self._model.generation_config.eos_token_id
        finish, stop_reason = ("stop", None) if eos in new else ("length", None)
        if eos in new:
            new = new[:new.index(eos)]
        decoded = self._tokenizer.decode(new, skip_special_tokens=params.skip_special_tokens)
        stops = [params.stop] if isinstance(params.stop, str) else list(params.stop or ())
        hits = [(decoded.find(s), s) for s in stops if s and s in decoded]
        if hits:
            cut, stop_reason = min(hits)
            decoded, finish = decoded[:cut], "stop"
        sample = CompletionOutput(0, decoded, new, None, None, finish_reason=finish, stop_reason=stop_reason)
        return RequestOutput(request_id, text, ids, None, [sample], True)
