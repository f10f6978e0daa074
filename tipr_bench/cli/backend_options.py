"""The backend options, written once for every command that talks to a model (translate, refine).

`with_backend_options` adds them to a command's signature and hands the command one checked
`BackendOptions` instead, so the option block and its help exist in one place. Each parameter is named
like the record's field (or `VllmSettings`'), so a value goes into the record under the name it has all
the way down to the backend; the checks are the record's (`BackendOptions.validate`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated

import typer

from tipr_bench.translate import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_MAX_MODEL_LEN,
    BackendOptions,
    VllmSettings,
    parse_vllm_args,
)

_Opt = typer.Option

# name -> (annotation, default): the options as the user types them, named as in the record
OPTIONS: dict[str, tuple[object, object]] = {
    "backend": (Annotated[str | None, _Opt("--backend", "-b", help="openai | vllm | transformers. Default: openai "
                                           "when --base-url or the API key is set, else transformers (offline).")],
                None),
    "model": (Annotated[str | None, _Opt("--model", "-m", help="Model name (openai) or local path; transformers "
                                         "defaults to the bundled Gemma-3-270M.")], None),
    "base_urls": (Annotated[list[str] | None, _Opt("--base-url", metavar="URL", help="OpenAI-compatible server URL; "
                                                  "repeat to spread load over several.")], None),
    "api_key_env": (Annotated[str, _Opt(metavar="VAR", help="Environment variable that holds the API key.")],
                    "OPENAI_API_KEY"),
    "concurrency": (Annotated[int, _Opt(help="Requests in flight (openai).")], 64),
    "rpm": (Annotated[int | None, _Opt(help="Requests per minute, at most (leave out for none).")], None),
    "tpm": (Annotated[int | None, _Opt(help="Tokens per minute, at most (leave out for none).")], None),
    "timeout": (Annotated[float, _Opt(help="Seconds per request before it is retried.")], 60.0),
    "max_retries": (Annotated[int, _Opt(help="Retries per request on a 429, a 5xx or a timeout.")], 5),
    "device": (Annotated[str, _Opt(help="auto | cpu | cuda | cuda:N (transformers).")], "auto"),
    "batch_size": (Annotated[int | None, _Opt(help="Prompts per forward pass (transformers 16; vllm: all).")],
                   None),
    "max_tokens": (Annotated[int, _Opt(help="Most tokens per answer (translation, back-translation, "
                                       "rewrite).")], 256),
    "max_model_len": (Annotated[int, _Opt(help="vllm: context the engine reserves per sequence (prompt + "
                                          "answer); keeps a long-context model within one GPU's memory.")],
                      DEFAULT_MAX_MODEL_LEN),
    "tensor_parallel_size": (Annotated[int, _Opt(help="vllm: GPUs that split each model (8 for a 70B model).")],
                             1),
    "gpu_memory_utilization": (Annotated[float, _Opt(help="vllm: share of each GPU's memory for the engine "
                                                     "(vLLM's own default 0.9 leaves CometKiwi no room).")],
                               DEFAULT_GPU_MEMORY_UTILIZATION),
    "trust_remote_code": (Annotated[bool, _Opt("--trust-remote-code", help="vllm: run the model repository's own "
                                               "Python code (some models need it).")], False),
    "extra": (Annotated[list[str] | None, _Opt("--vllm-arg", metavar="KEY=VALUE", help="vllm: any other engine "
                                               "argument (repeatable), e.g. quantization=fp8.")], None),
    "thinking": (Annotated[bool, _Opt("--thinking", help="vllm: let thinking models (Qwen3-style) "
                                      "think first; off by default.")], False),
    "chat_mode": (Annotated[str, _Opt(help="vllm: auto (ask the engine whether it has a chat template) | chat | "
                                      "base (few-shot prompts).")], "auto"),
}


VLLM_FIELDS = tuple(f.name for f in dataclasses.fields(VllmSettings))


def backend_options(**values) -> BackendOptions:
    """The options as typed at the command line, as one record, checked (one-line errors before any model
    loads). Engine settings go in when given or when the backend is vllm; the record refuses them for
    another backend."""
    engine = {name: values.pop(name) for name in VLLM_FIELDS}
    vllm = VllmSettings(**{**engine, "extra": parse_vllm_args(engine["extra"] or ())})
    return BackendOptions(**{**values, "base_urls": tuple(values["base_urls"] or ())},
                          vllm=vllm if values["backend"] == "vllm" or vllm != VllmSettings() else None)


def with_backend_options(command: Callable) -> Callable:
    """Give `command` the backend options; it receives them as one `backend_options: BackendOptions`."""
    hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
           if p.name != "backend_options"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
              for name, (annotation, default) in OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(**kwargs):
        values = {name: kwargs.pop(name) for name in OPTIONS}
        return command(**kwargs, backend_options=backend_options(**values))

    wrapper.__signature__ = inspect.Signature([p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared)
    wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}
    del wrapper.__wrapped__  # typer reads this signature, not the command's
    return wrapper


__all__ = ["OPTIONS", "backend_options", "with_backend_options"]
