"""How to reach a model, said once: `BackendOptions`, checked on construction, passed whole.

`translate`, `refine` and the demo build their backend from one of these, and so can Python code. The
record travels as it is from the command line to the backend that uses it (`build` hands it to the
backend's constructor), so each option has one name all the way down. Every option has one meaning
everywhere (`rpm=None` is no limit; 0 is refused, not "no limit"), and every bad value is a one-line
`UserError` naming the option, raised by `validate` before any model loads, any file is written or any
request is sent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

from tipr_bench.core.devices import check_device
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.vllm_settings import VllmSettings, check_engine_model

BACKENDS = ("openai", "vllm", "transformers")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-", "AIza")  # how common API keys and tokens begin

DEFAULT_BATCH_SIZE = {"transformers": 16, "vllm": 0}  # 0: the whole job list at once (vLLM schedules it)


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """A backend and its settings. `backend` None: openai when a base URL or the API key is set, else the
    offline transformers default."""

    backend: str | None = None
    model: str | None = None
    base_urls: tuple[str, ...] = ()
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 64
    rpm: int | None = None
    tpm: int | None = None
    timeout: float = 60.0
    max_retries: int = 5
    device: str = "auto"
    batch_size: int | None = None  # None: the backend's own (`passes`)
    temperature: float = 0.0
    max_tokens: int = 256
    vllm: VllmSettings | None = None  # engine settings; default ones when the backend is vllm
    output_langs: tuple[str, ...] = ()  # transformers: cut the output layer to these languages' scripts
    shortlist: int = 0  # transformers on CPU: greedy steps choose among this many int8-scored tokens (0: off)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_urls", tuple(self.base_urls))
        if self.backend == "vllm" and self.vllm is None:
            object.__setattr__(self, "vllm", VllmSettings())
        self.validate()
        object.__setattr__(self, "output_langs", tuple(get_language(lang).code for lang in self.output_langs))

    def validate(self) -> None:
        """Every check of every option, in one place: one line naming the option and how to fix it."""
        if self.backend is not None and self.backend not in BACKENDS:
            raise UserError(f"--backend {self.backend!r}: use one of {', '.join(BACKENDS)}")
        if self.vllm is not None and self.backend != "vllm":
            raise UserError(f"{', '.join(self.vllm.changed())}: vLLM engine settings; add --backend vllm, "
                            "or leave them out")
        if self.base_urls and self.backend in ("transformers", "vllm"):
            raise UserError(f"--base-url goes with --backend openai (a server); --backend {self.backend} runs the "
                            "model in this process, and would leave the URL unused: drop one of them")
        for url in self.base_urls:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise UserError(f"--base-url {url!r} is not an http(s) URL; write it like http://host:8000/v1")
        if not ENV_NAME.fullmatch(self.api_key_env) or self.api_key_env.startswith(KEY_PREFIXES):
            # never repeat the value: it may be the key itself
            raise UserError("--api-key-env takes the name of an environment variable (such as OPENAI_API_KEY), "
                            "and what was given is not one; put the key in that variable, never on the command line")
        _at_least("--concurrency", self.concurrency, 1)
        _at_least("--rpm", self.rpm, 1, "; leave it out for no limit")
        _at_least("--tpm", self.tpm, 1, "; leave it out for no limit")
        _at_least("--max-retries", self.max_retries, 0)
        _at_least("--batch-size", self.batch_size, 1)
        _at_least("--max-tokens", self.max_tokens, 1)
        _at_least("shortlist", self.shortlist, 0)
        if not self.timeout > 0:
            raise UserError(f"--timeout must be positive (seconds), got {self.timeout}")
        if self.temperature < 0:
            raise UserError(f"--temperature must be 0 or more, got {self.temperature}")
        check_device(self.device)
        self._validate_model()

    def _validate_model(self) -> None:
        name = self.name
        if name in ("openai", "vllm") and not self.model:
            what = "the name the server serves, e.g. gpt-4o-mini" if name == "openai" else \
                "a local model folder or a name vLLM resolves"
            raise UserError(f"the {name} backend needs --model ({what})")
        if name == "transformers" and self.model is not None:
            _check_local_model(self.model)
        if name == "vllm":
            check_engine_model(self.model)
        if self.vllm is not None and self.max_tokens >= self.vllm.max_model_len:
            raise UserError(f"--max-tokens {self.max_tokens} leaves no room for the prompt in --max-model-len "
                            f"{self.vllm.max_model_len}: raise --max-model-len or lower --max-tokens")

    @property
    def name(self) -> str:
        """The backend this resolves to: openai when a server or an API key is given, else the offline
        transformers default."""
        if self.backend:
            return self.backend
        return "openai" if self.base_urls or os.environ.get(self.api_key_env) else "transformers"

    @property
    def passes(self) -> int:
        """Prompts per forward pass of a local backend: `batch_size`, else the backend's default (vllm 0: all)."""
        return self.batch_size if self.batch_size is not None else DEFAULT_BATCH_SIZE.get(self.name, 16)

    @property
    def decoding(self) -> DecodingParams:
        return DecodingParams(temperature=self.temperature, max_tokens=self.max_tokens)

    def with_(self, **changes) -> BackendOptions:
        """A copy with some options changed, checked again."""
        return replace(self, **changes)


def _check_local_model(model: str) -> None:
    """What the transformers backend loads: a model folder (config.json), a folder of one .gguf, a .gguf."""
    path = Path(model).expanduser()
    if not path.exists():
        raise UserError(f"--model {model}: no such folder or file; the transformers backend loads a local "
                        "model folder or a .gguf file (leave --model out for the bundled Gemma-3-270M)")
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise UserError(f"--model {model}: a model file must be a .gguf; for other formats pass the folder")
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) != 1:
            raise UserError(f"--model {model}: the folder has no config.json"
                            + (f" and {len(ggufs)} .gguf files; pass one of them" if ggufs else
                               "; pass a Hugging Face model folder or a .gguf file"))


def _at_least(option: str, value: int | None, low: int, hint: str = "") -> None:
    if value is not None and value < low:
        raise UserError(f"{option} must be at least {low}, got {value}{hint}")
