"""Local translation with Hugging Face transformers: a model folder (seq2seq MT or causal LM) or a GGUF
file, batched, on CPU or GPU. With no model it runs the bundled Gemma-3-270M, so the demo works offline.

transformers cannot compute on GGUF blocks without hub kernels, so it dequantizes a GGUF to float32 on
every load (and its GGUF tokenizer conversion is slow too). The first load therefore saves the converted
model and tokenizer as a normal HF folder in the model cache; every later load reads that folder instead.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.utils import logging as hf_logging

from tipr_bench.core.devices import resolve_device, use_cpu_threads
from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.base import Completion, DecodingParams, Message
from tipr_bench.translate.backends.decode_loop import DecodeLoop, OutputHead
from tipr_bench.translate.backends.gemma_default import bundled_gguf
from tipr_bench.translate.backends.local_common import (
    converted_folder,
    cut_at_stop,
    folder_model_id,
    gguf_model_id,
    message_text,
    raw_prompt,
)
from tipr_bench.translate.backends.script_vocab import allowed_token_ids, scripts_for

if TYPE_CHECKING:  # the record is handed in whole; this module never builds one
    from tipr_bench.translate.options import BackendOptions


class TransformersBackend:
    """A BatchBackend over a local transformers model; `complete_batch` runs `batch_size` prompts per pass."""

    name = "transformers"

    def __init__(self, options: BackendOptions) -> None:
        """`options` is checked already (`BackendOptions.validate`). Its `output_langs` cuts a causal LM's
        output layer to the scripts of those languages: an answer that needed another script changes, so the
        cut goes into the model id (and the cache key). Its `shortlist` makes greedy steps on CPU choose among
        that many int8-scored tokens (decode_loop.OutputHead); it goes into the model id too."""
        self.batch_size = options.passes
        self.device = resolve_device(options.device)
        self.dtype = dtype_for(self.device)
        use_cpu_threads(self.device)
        with quiet_loading():
            loaded = load_model(options.model, self.dtype)
        self.model: str = loaded.model_id
        self.is_seq2seq = loaded.is_seq2seq
        self.uses_chat_template = bool(getattr(loaded.tokenizer, "chat_template", None))
        self._tokenizer = loaded.tokenizer
        self._tokenizer.padding_side = "right" if self.is_seq2seq else "left"
        if self._tokenizer.pad_token_id is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token or self._tokenizer.unk_token
        self._net = loaded.net.to(self.device).eval()
        self._eos_ids = _eos_ids(self._net, self._tokenizer)
        self._loop = self._decode_loop(options.output_langs, options.shortlist)
        # torch threads for each pass on CPU, asked before it (None: keep the count set at load); the demo
        # lends a core to training while that runs beside refine, and takes it back when it ends
        self.threads_per_pass: Callable[[], int] | None = None

    def _decode_loop(self, output_langs: Sequence[str], shortlist: int) -> DecodeLoop | None:
        """The faster loop for causal LMs whose logits are their body's output through the output layer
        (checked on one input); None leaves the model to `generate`."""
        if self.is_seq2seq or not _body_then_head(self._net, self._tokenizer, self.device):
            if output_langs or shortlist:
                raise UserError(f"{self.model}: a restricted output vocabulary or a shortlist needs a causal LM "
                                "whose logits come from its output layer alone")
            return None
        ids = None
        if output_langs:
            scripts = scripts_for(output_langs)
            ids = allowed_token_ids(self._tokenizer, scripts, always=self._eos_ids).to(self.device)
            self.model += "+vocab:" + ",".join(scripts)
        head = OutputHead(self._net, ids, shortlist=shortlist if self.device.type == "cpu" else 0)
        if head.shortlist:
            self.model += f"+shortlist:{head.shortlist}"
        return DecodeLoop(self._net, head, self._eos_ids, self._tokenizer)

    # -- prompts -------------------------------------------------------------------------------------
    def render(self, conversation: Sequence[Message]) -> str:
        """The exact text the model sees: the chat template for chat models, else the raw contents."""
        if not self.uses_chat_template:
            return raw_prompt(conversation)
        messages = [{"role": m.get("role", "user"), "content": message_text(m)} for m in conversation]
        try:
            return self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # some templates (e.g. Mistral's) reject a system turn: fold it into the user's
            if not messages or messages[0]["role"] != "system" or len(messages) < 2:
                raise
            merged = [{"role": messages[1]["role"],
                       "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return self._tokenizer.apply_chat_template(merged + messages[2:], tokenize=False,
                                                       add_generation_prompt=True)

    def encode(self, conversations: Sequence[Sequence[Message]]) -> list[list[int]]:
        prompts = [self.render(c) for c in conversations]
        # a chat template writes its own BOS; a raw prompt needs the tokenizer's special tokens
        ids = self._tokenizer(prompts, add_special_tokens=not self.uses_chat_template)["input_ids"]
        return [list(row) for row in ids]

    # -- generation ----------------------------------------------------------------------------------
    def complete_batch(
        self, conversations: Sequence[Sequence[Message]], params: DecodingParams
    ) -> list[Completion]:
        """Completions in input order. Prompts are sorted by length into passes of `batch_size`,
        so a big call pads little; with greedy decoding a prompt's result does not depend on its batch."""
        if not conversations:
            return []
        encoded = self.encode(conversations)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: list[Completion | None] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            if self.threads_per_pass is not None and self.device.type == "cpu":
                torch.set_num_threads(self.threads_per_pass())
            outputs = self._generate_fitting([encoded[i] for i in chunk], params)
            for index, completion in zip(chunk, outputs, strict=True):
                results[index] = completion
        return [r for r in results if r is not None]

    def _generate_fitting(self, prompts: list[list[int]], params: DecodingParams) -> list[Completion]:
        """Generate, halving the pass when the GPU runs out of memory (long prompts, a big model), so a
        batch size that fits most batches does not fail the few that do not."""
        try:
            return self._generate(prompts, params)
        except torch.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            if len(prompts) == 1:
                raise UserError(f"out of {self.device} memory generating one prompt of {len(prompts[0])} "
                                "tokens: use a smaller model or --device cpu") from exc
            half = len(prompts) // 2
            return self._generate_fitting(prompts[:half], params) + self._generate_fitting(prompts[half:], params)

    def _generate(self, prompts: list[list[int]], params: DecodingParams) -> list[Completion]:
        if self._loop is None:
            return self.generate_plain(prompts, params)
        completions = []
        for prompt, decoded in zip(prompts, self._loop.run(prompts, params), strict=True):
            text, hit_stop = cut_at_stop(self._tokenizer.decode(decoded.tokens, skip_special_tokens=True),
                                         params.stop)
            finished = decoded.stopped or hit_stop or (len(decoded.tokens) < params.max_tokens and not decoded.looped)
            reason = "stop" if finished else "repetition" if decoded.looped else "length"
            completions.append(Completion(text=text.strip(), tokens_in=len(prompt), tokens_out=len(decoded.tokens),
                                          finish_reason=reason))
        return completions

    @torch.inference_mode()
    def generate_plain(self, prompts: list[list[int]], params: DecodingParams) -> list[Completion]:
        """transformers' own `generate` over a left-padded batch: seq2seq models, and the reference the
        faster loop is measured against (bench/demo_speed.py)."""
        batch = self._tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt").to(self.device)
        start = 1 if self.is_seq2seq else batch["input_ids"].shape[1]  # seq2seq output opens with a start token
        stopper = StopOnStrings(self._tokenizer, params.stop, start) if any(params.stop) else None
        if params.temperature > 0 and params.seed is not None:
            torch.manual_seed(params.seed)
        output = self._net.generate(
            **batch,
            generation_config=self._generation_config(params),
            stopping_criteria=StoppingCriteriaList([stopper] if stopper else []),
        )
        completions = []
        for row, prompt in enumerate(prompts):
            generated = output[row, start:].tolist()
            length = len(generated)
            if stopper is not None and row in stopper.done_at:
                length = min(length, stopper.done_at[row])
            hit_eos = next((i for i, t in enumerate(generated[:length]) if t in self._eos_ids), None)
            if hit_eos is not None:
                length = hit_eos + 1
            text, hit_stop = cut_at_stop(
                self._tokenizer.decode(generated[:length], skip_special_tokens=True), params.stop
            )
            finished = hit_stop or hit_eos is not None or length < params.max_tokens
            completions.append(Completion(text=text.strip(), tokens_in=len(prompt), tokens_out=length,
                                          finish_reason="stop" if finished else "length"))
        return completions

    def _generation_config(self, params: DecodingParams) -> GenerationConfig:
        config = copy.deepcopy(self._net.generation_config)
        sample = params.temperature > 0
        config.update(
            max_new_tokens=params.max_tokens, min_new_tokens=None, max_length=None,
            do_sample=sample, num_beams=1, temperature=params.temperature if sample else None,
            top_p=params.top_p if sample else None, top_k=0 if sample else None,
            pad_token_id=self._tokenizer.pad_token_id, eos_token_id=sorted(self._eos_ids),
        )
        return config


class StopOnStrings(StoppingCriteria):
    """Ends a row as soon as its generated text contains a stop string, so one row's runaway output does not
    keep the whole batch generating. Decodes only a short tail each step; records where each row ended."""

    def __init__(self, tokenizer, stop: Sequence[str], start: int) -> None:
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.start = start
        self.tail = max(len(s.encode()) for s in self.stop) + 2  # a token holds at least one byte
        self.done_at: dict[int, int] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        generated = input_ids[:, self.start:]
        tails = generated[:, -self.tail:].tolist()
        flags = []
        for row, tail in enumerate(tails):
            if row not in self.done_at:
                text = self.tokenizer.decode(tail, skip_special_tokens=True)
                if any(s in text for s in self.stop):
                    self.done_at[row] = generated.shape[1]
            flags.append(row in self.done_at)
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


# -- devices -----------------------------------------------------------------------------------------
def dtype_for(device: torch.device) -> torch.dtype:
    """float32 on CPU (bf16 matmuls are slow there); bf16 on GPUs that have it, else float16."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


# -- loading -----------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    net: PreTrainedModel
    tokenizer: object
    is_seq2seq: bool
    model_id: str


def load_model(model: str | None, dtype: torch.dtype) -> LoadedModel:
    """A folder (HF layout, or holding exactly one .gguf), a .gguf file, or None for the bundled Gemma; the
    path was checked with the options (`BackendOptions.validate`)."""
    if model is None:
        return load_gguf(bundled_gguf(), dtype)
    path = Path(model).expanduser()
    if path.is_file():
        return load_gguf(path, dtype)
    if not (path / "config.json").is_file():
        return load_gguf(next(path.glob("*.gguf")), dtype)
    return load_folder(path, dtype, folder_model_id(path))


def load_folder(folder: Path, dtype: torch.dtype, model_id: str) -> LoadedModel:
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"--model {folder}: cannot read its config or tokenizer ({_first_line(exc)}); "
                        "the folder needs config.json and tokenizer files") from exc
    seq2seq = bool(getattr(config, "is_encoder_decoder", False))
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    try:
        net = auto.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except (OSError, ValueError) as exc:
        kind = "seq2seq" if seq2seq else "causal LM"
        raise UserError(f"--model {folder}: cannot load it as a {kind} ({_first_line(exc)}); "
                        "use a translation (seq2seq) or text-generation model folder") from exc
    return LoadedModel(net, tokenizer, seq2seq, model_id)


def load_gguf(gguf: Path, dtype: torch.dtype) -> LoadedModel:
    """Load a GGUF through its converted folder in the model cache, converting it on first use."""
    model_id = gguf_model_id(gguf)
    converted = converted_folder(gguf)
    if (converted / "model.safetensors").is_file():
        return load_folder(converted, dtype, model_id)
    print(f"tipr-bench: converting {gguf.name} for transformers, once (under a minute on 2 CPU cores); "
          f"later runs load {converted}", file=sys.stderr, flush=True)
    try:
        with gguf_read_once():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            net = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                       local_files_only=True)
    except Exception as exc:  # gguf raises struct/Value/Key errors on a damaged or foreign file
        raise UserError(f"--model {gguf}: transformers cannot load this GGUF ({_first_line(exc)}); "
                        "use a supported architecture (llama, gemma3, qwen2, mistral, ...) or an HF folder") from exc
    save_converted(net, tokenizer, converted)
    if dtype != torch.float32:
        net = net.to(dtype)
    return LoadedModel(net, tokenizer, False, model_id)


@contextmanager
def gguf_read_once() -> Iterator[None]:
    """One parse of a GGUF's metadata per file while the block runs. transformers opens a new
    `gguf.GGUFReader` for the tokenizer, for the config and for the weights, and each one parses the whole
    vocabulary in Python: 29 s of the bundled model's 95 s first load on 2 cores, three times over."""
    import gguf

    opened = gguf.GGUFReader
    readers: dict[tuple[str, str], object] = {}

    def shared(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = opened(path, mode)
        return readers[key]

    gguf.GGUFReader = shared
    try:
        yield
    finally:
        gguf.GGUFReader = opened


def save_converted(net: PreTrainedModel, tokenizer, target: Path) -> None:
    """Write the dequantized model + tokenizer as an HF folder: built under a temp name, then renamed, so a
    killed conversion leaves nothing a later load would trust. A read-only cache only costs speed."""
    from safetensors.torch import save_model

    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        config = copy.deepcopy(net.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights written are plain float32, not GGUF blocks
        config.dtype = "float32"
        config.save_pretrained(tmp)
        net.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_model(net, str(tmp / "model.safetensors"))
        os.replace(tmp, target)
    except OSError:
        pass  # cache not writable, or another process renamed its copy in first: loading still works
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No per-load "Loading weights" bar from transformers: the CLI draws its own progress."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@torch.inference_mode()
def _body_then_head(net: PreTrainedModel, tokenizer, device: torch.device) -> bool:
    """True when the model's logits are its base model's last hidden state through its output layer
    (plus soft-capping), the shape DecodeLoop computes; models that scale logits otherwise are left out."""
    if net.base_model is net or net.get_output_embeddings() is None:
        return False
    ids = torch.tensor([tokenizer("A man in a red coat.")["input_ids"]], device=device)
    expected = net(input_ids=ids).logits[0, -1].float()
    got = OutputHead(net, None)(net.base_model(input_ids=ids).last_hidden_state[0, -1])
    return torch.allclose(got, expected, rtol=1e-3, atol=1e-3 * float(expected.abs().max()))


def _eos_ids(net: PreTrainedModel, tokenizer) -> set[int]:
    eos = net.generation_config.eos_token_id
    if eos is None:
        eos = net.config.eos_token_id if net.config.eos_token_id is not None else tokenizer.eos_token_id
    ids = {eos} if isinstance(eos, int) else set(eos or ())
    return {i for i in ids if i is not None}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
