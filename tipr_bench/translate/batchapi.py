"""OpenAI Batch API files: export the requests a run still needs, import the answers.

`--batch-out FILE.jsonl` writes one request per line (custom_id = the cache key, so answers find
their captions again); the same file feeds `vllm run-batch`. `--batch-in FILE.jsonl` puts the
answers into the translation cache; the run that follows stores them as translations (checked,
like any answer). Flagged answers then need a second batch round: the next `--batch-out` exports
their retries with the strict prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.atomic import atomic_open
from tipr_bench.benchmark.errors import UserError
from tipr_bench.benchmark.records import utc_now
from tipr_bench.benchmark.store import Workspace
from tipr_bench.translate.backends.openai_backend import chat_args, completion_from_body
from tipr_bench.translate.cache import TranslationCache
from tipr_bench.translate.runner import PendingPlan

IMPORT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class BatchImport:
    imported: int  # answers put in the cache
    errors: int  # lines whose request failed at the provider (they stay pending)
    unmatched: int  # answers for requests this run would not make (other settings, or already imported)
    first_error: str = ""


def write_batch_requests(path: str | Path, pending: PendingPlan, model: str) -> int:
    """Write the pending requests as Batch-API JSONL (atomically); returns the number of lines."""
    count = 0
    with atomic_open(path, "w") as handle:
        for key, messages, params, _job, _n in pending.requests():
            body = {**chat_args(model, params), "messages": messages}
            line = {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def _bad_line(path: Path, lineno: int, problem: str) -> UserError:
    return UserError(
        f"{path}:{lineno}: not a Batch-API result line ({problem}); pass the output file the batch produced "
        "(lines with custom_id and response.body)"
    )


def import_batch_results(
    ws: Workspace, path: str | Path, backend_name: str, model: str, expected: set[str]
) -> BatchImport:
    """Read a Batch-API output file and cache the answers whose custom_id is one of `expected`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--batch-in {path}: no such file; pass the results file your batch produced")
    cache = TranslationCache(ws.conn)
    imported = errors = unmatched = 0
    first_error = ""
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
                    first_error = f"line {lineno}: {json.dumps(detail, ensure_ascii=False)[:200]}"
                continue
            try:
                completion = completion_from_body(response["body"])
            except (KeyError, TypeError, IndexError, ValueError):
                raise _bad_line(path, lineno, "response.body is not a chat completion") from None
            if key not in expected:
                unmatched += 1
                continue
            rows.append((key, completion.text, completion.tokens_in, completion.tokens_out,
                         completion.finish_reason, backend_name, model, now))
            imported += 1
            if len(rows) >= IMPORT_CHUNK:
                flush()
    flush()
    return BatchImport(imported, errors, unmatched, first_error)
