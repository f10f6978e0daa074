"""tipr-bench: multilingual text-to-image person retrieval benchmarks and baselines."""

__version__ = "0.1.0"

# The Python entry points (README "From Python"), imported on first use so `tipr-bench --help` stays fast.
_EXPORTS = {
    "open_release": ("tipr_bench.benchmark.caption_tables", "open_release"),
    "Workspace": ("tipr_bench.benchmark.store", "Workspace"),
    "leaderboard_frame": ("tipr_bench.baselines.leaderboard", "to_frame"),
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tipr_bench' has no attribute {name!r}")
    import importlib

    module, attr = _EXPORTS[name]
    return getattr(importlib.import_module(module), attr)
