"""Whether a refine run has anything left to do: refine settles.

Each run records what it left, per language and selection (meta `state.refine.LANG[dataset.split]`):
the settings that decide its verdicts and rewrites, theta, the rewrite rounds done, a digest of the
translations it left, and its summary. The same settings on the same translations then ask the model
nothing and change nothing; a larger `--rounds` runs only the rounds not done yet. Theta stays the one
the first run with these settings computed, so the rewrites that run accepted do not move it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from tipr_bench.benchmark.store import Workspace
from tipr_bench.refine.glossary import Glossary
from tipr_bench.refine.run_settings import RefineSettings
from tipr_bench.translate import BackendOptions, backend_identity

STATE_PREFIX = "state.refine."


@dataclass(frozen=True, slots=True)
class RefineState:
    settings: str  # settings_fingerprint() of the run that left it
    theta: float
    rounds: int  # rewrite rounds done on these translations
    translations: str  # translations_digest() of what the run left
    summary: dict  # that run's RefineSummary as JSON


def state_key(lang: str, dataset: str | None, split: str | None) -> str:
    where = ".".join(p for p in (dataset, split) if p)
    return f"{STATE_PREFIX}{lang}" + (f"[{where}]" if where else "")


def load_state(ws: Workspace, key: str) -> RefineState | None:
    text = ws.meta((key,)).get(key)
    if text is None:
        return None
    try:
        return RefineState(**json.loads(text))
    except (ValueError, TypeError):  # written by another version: start afresh
        return None


def state_entry(key: str, state: RefineState) -> dict[str, str]:
    """The meta row that records `state` (written with the run's other settings, in one transaction)."""
    return {key: json.dumps(asdict(state), ensure_ascii=False, sort_keys=True)}


def translations_digest(ws: Workspace, lang: str, dataset: str | None, split: str | None) -> str:
    """sha256 over every translation of the selection, by key: text, status, provenance and round."""
    digest = hashlib.sha256()
    for key, text, status, provenance, round_ in ws.translation_states(lang, dataset, split):
        digest.update(json.dumps([key, text, status, provenance, round_], ensure_ascii=False).encode())
    return digest.hexdigest()


def served_identity(backend) -> list[str]:
    """(backend, model) as the cache sees them, from options (nothing loaded) or a built backend."""
    if backend is None:
        return []
    if isinstance(backend, BackendOptions):
        return list(backend_identity(backend))
    return [backend.name, backend.model]


def settings_fingerprint(s: RefineSettings, glossary: Glossary | None, backend, rewrite_backend) -> str:
    """What decides a run's verdicts and rewrites: not where its report goes, nor --force."""
    return json.dumps({
        "qe": s.qe, "comet_model": str(s.comet_model or ""), "threshold": s.threshold, "chrf_min": s.chrf_min,
        "rewrite": s.rewrite, "max_tokens": s.max_tokens, "glossary": glossary.signature if glossary else "none",
        "backend": served_identity(backend), "rewriter": served_identity(rewrite_backend),
    }, sort_keys=True)
