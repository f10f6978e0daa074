"""Versioned releases: export a workspace to a checksummed folder, download one, verify one on disk.

A release is captions only (the source datasets' licences forbid redistributing images):
data/<lang>/<split>.parquet, optional jsonl/IRRA/Bi-IRRA copies, MANIFEST.json with the sha256
of every file, a dataset card and Croissant metadata. An index.json beside the releases lists
them, so any static file host (or a Hugging Face dataset repo) serves a working index.
"""

from tipr_bench.benchmark.manifest import VerifyReport, verify_release
from tipr_bench.release.export import ExportResult, export_release
from tipr_bench.release.index_download import DownloadResult, download_release

__all__ = [
    "DownloadResult",
    "ExportResult",
    "VerifyReport",
    "download_release",
    "export_release",
    "verify_release",
]
