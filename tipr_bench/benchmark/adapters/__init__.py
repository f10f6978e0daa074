"""Readers for the native annotation files, detected from the dataset root.

`load_dataset(root, dataset)` validates the whole file before returning anything, so a bad
record never leaves a half-ingested workspace.
"""

from tipr_bench.benchmark.adapters.base import DATASETS, LoadedDataset
from tipr_bench.benchmark.adapters.detect import detect_format, load_dataset

__all__ = ["DATASETS", "LoadedDataset", "detect_format", "load_dataset"]
