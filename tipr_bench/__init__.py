"""tipr-bench: multilingual text-to-image person retrieval benchmarks and baselines."""

__version__ = "0.1.0"
