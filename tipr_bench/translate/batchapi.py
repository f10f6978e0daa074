"""OpenAI Batch API files: export the requests a run still needs, import the answers.

`--batch-out FILE.jsonl` writes one request per line (custom_id = the cache key, so answers find
their captions again); the same file feeds `vllm run-batch`. `--batch-in FILE.jsonl` puts the
answers into the translation cache; the run that follows stores them as translations (checked,
like any answer). Flagged answers then need a second batch round: the next `--batch-out` exports
their retries with the strict prompt.

Files are written as the server will accept them: the model field is the name the server serves
(for `vllm run-batch`, its --served-model-name or the --model path it was started with, not the
cache's folder@digest id), and an export over the Batch API's limits (50,000 requests or 200 MB per
file) is split into FILE.001.jsonl, FILE.002.jsonl, ... `vllm run-batch` serves chat completions
only, so a base model (no chat template) is refused with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import atomic_open
from tipr_bench.core.clock import utc_now
from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.local_common import has_chat_template
from tipr_bench.translate.backends.openai_backend import chat_args, completion_from_body
from tipr_bench.translate.cache import TranslationCache
from tipr_bench.translate.runner import PendingPlan

IMPORT_CHUNK = 1000
MAX_REQUESTS = 50_000  # the OpenAI Batch API's limits per input file
MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BatchImport:
    imported: int  # answers put in the cache
    errors: int  # lines whose request failed at the provider (they stay pending)
    unmatched: int  # answers for requests this run would not make (other settings)
    already: int = 0  # answers the cache holds already (a file imported before)
    empty: int = 0  # empty answers: no translation, so not cached; the next --batch-out asks again
    first_error: str = ""


def write_batch_requests(path: str | Path, pending: PendingPlan, model: str, *, extra_body: dict | None = None,
                         max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[tuple[Path, int]]:
    """Write the pending requests as Batch-API JSONL, each file atomically; returns (file, lines) per file.
    `model` is the served name; `extra_body` adds fields (vLLM's chat_template_kwargs)."""
    path = Path(path)
    parts: list[list[bytes]] = [[]]
    size = 0
    written: list[tuple[Path, int]] = []

    def part_path(number: int) -> Path:
        return path.with_name(f"{path.stem}.{number:03d}{path.suffix}")

    for request in pending.requests():
        key = request.key
        body = {**chat_args(model, request.params), **(extra_body or {}), "messages": request.messages}
        line = {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if len(data) > max_bytes:
            raise UserError(f"--batch-out: request {key} is {len(data):,} bytes, over the Batch API's "
                            f"{max_bytes:,} per file; send it with a live run instead of --batch-out")
        if parts[-1] and (len(parts[-1]) >= max_requests or size + len(data) > max_bytes):
            written.append(_write_part(part_path(len(parts)), parts[-1]))
            parts.append([])
            size = 0
        parts[-1].append(data)
        size += len(data)
    written.append(_write_part(part_path(len(parts)) if len(parts) > 1 else path, parts[-1]))
    return written


def _write_part(path: Path, lines: list[bytes]) -> tuple[Path, int]:
    with atomic_open(path, "wb") as handle:
        handle.writelines(lines)
    return path, len(lines)


def refuse_base_model_batch(model: str, chat_mode: str) -> None:
    """`vllm run-batch` serves /v1/chat/completions only: a model without a chat template would answer
    every line with an error, so say so before writing anything."""
    if chat_mode == "chat" or (chat_mode == "auto" and has_chat_template(model) is not False):
        return  # a chat model, or a hub name whose template (or built-in fallback) vLLM resolves where it runs
    raise UserError(f"--batch-out with --backend vllm: {model} is a base model (no chat template) and "
                    "`vllm run-batch` serves chat completions only; translate it in-process (drop "
                    "--batch-out), or pass --chat-mode chat if vLLM has a built-in template for it")


def _bad_line(path: Path, lineno: int, problem: str) -> UserError:
    return UserError(
        f"{path}:{lineno}: not a Batch-API result line ({problem}); pass the output file the batch produced "
        "(lines with custom_id and response.body)"
    )


def import_batch_results(
    ws: Workspace, paths: Sequence[str | Path], backend_name: str, model: str, expected: set[str]
) -> BatchImport:
    """Read Batch-API output files (one per exported part) and cache the answers whose custom_id is one
    of `expected`."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise UserError(f"--batch-in {path}: no such file; pass the results file your batch produced")
    totals = [_import_one(ws, path, backend_name, model, expected) for path in paths]
    return BatchImport(*(sum(getattr(t, name) for t in totals) for name in ("imported", "errors", "unmatched",
                                                                            "already", "empty")),
                       first_error=next((t.first_error for t in totals if t.first_error), ""))


def _import_one(ws: Workspace, path: Path, backend_name: str, model: str, expected: set[str]) -> BatchImport:
    cache = TranslationCache(ws.conn)
    imported = errors = empty = 0
    first_error = ""
    other: list[str] = []  # keys this run would not request: already imported, or other settings
    rows: list[tuple] = []
    now = utc_now()

    def flush() -> None:
        if rows:
            with ws.transaction():
                cache.put_rows(rows)
            rows.clear()

    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad_line(path, lineno, f"invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict) or not isinstance(record.get("custom_id"), str):
                raise _bad_line(path, lineno, "no custom_id")
            key = record["custom_id"]
            response = record.get("response") or {}
            if record.get("error") or not isinstance(response, dict) or response.get("status_code", 200) != 200:
                errors += 1
                if not first_error:
                    detail = record.get("error") or (response.get("body") if isinstance(response, dict) else "")
                    first_error = f"{path.name} line {lineno}: {json.dumps(detail, ensure_ascii=False)[:200]}"
                continue
            try:
                completion = completion_from_body(response["body"])
            except (KeyError, TypeError, IndexError, ValueError):
                raise _bad_line(path, lineno, "response.body is not a chat completion") from None
            if key not in expected:
                other.append(key)
                continue
            if not completion.text.strip():
                empty += 1
                continue
            rows.append((key, completion.text, completion.tokens_in, completion.tokens_out,
                         completion.finish_reason, backend_name, model, now))
            imported += 1
            if len(rows) >= IMPORT_CHUNK:
                flush()
    flush()
    found = cache.lookup(other)
    already = sum(1 for key in other if key in found)
    return BatchImport(imported, errors, len(other) - already, already, empty, first_error)
