"""LLM translation: backends, prompts, cache, async runner, output checks. Never imports refine.

What other parts may use is what this face exports; they import nothing deeper (tests may, to test the
insides). The backends themselves load only when `build_backend` picks one.
"""

from tipr_bench.translate.backend_factory import backend_identity, build_backend
from tipr_bench.translate.backends.base import AsyncBackend, BatchBackend, Completion, DecodingParams
from tipr_bench.translate.backends.gemma_default import bundled_converted
from tipr_bench.translate.backends.vllm_settings import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_MAX_MODEL_LEN,
    VllmSettings,
    parse_vllm_args,
)
from tipr_bench.translate.checks import CheckResult, check_output
from tipr_bench.translate.cost import Estimate, cost, estimate
from tipr_bench.translate.drivers import RunAborted
from tipr_bench.translate.jobs import CacheOnly, JobResult, RunReport, TranslationJob, workspace_jobs
from tipr_bench.translate.options import BACKENDS, BackendOptions
from tipr_bench.translate.prompts import PRESETS, Prompt, completion_style, default_prompt, get_prompt, prompt_texts
from tipr_bench.translate.runner import PendingPlan, plan_requests, translate_jobs
from tipr_bench.translate.use_cases import (
    Outcome,
    TranslateSettings,
    dry_run,
    export_batch,
    import_batch,
    is_base_model,
    translate_language,
)

__all__ = [
    "BACKENDS", "DEFAULT_GPU_MEMORY_UTILIZATION", "DEFAULT_MAX_MODEL_LEN", "PRESETS", "AsyncBackend",
    "BackendOptions", "BatchBackend", "CacheOnly", "CheckResult", "Completion", "DecodingParams", "Estimate",
    "JobResult", "Outcome", "PendingPlan", "Prompt", "RunAborted", "RunReport", "TranslateSettings",
    "TranslationJob", "VllmSettings", "bundled_converted", "check_output", "completion_style", "cost",
    "default_prompt", "dry_run", "estimate", "export_batch", "get_prompt", "import_batch", "is_base_model",
    "backend_identity", "build_backend", "parse_vllm_args", "plan_requests", "prompt_texts", "translate_jobs",
    "translate_language", "workspace_jobs",
]
