"""The whole pipeline on the bundled synthetic sample, offline, as one function.

sample -> ingest -> translate -> refine -> export -> serve + download + verify -> train the tiny
Bi-IRRA -> evaluate English and target-language queries -> leaderboard. Training starts in the
background once the translations are in, beside refine (demo_training.py); its stage waits for it.
Every stage reuses what a previous run finished (the translation cache, the release, the checkpoint),
so a second run is fast.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tipr_bench.benchmark.ingest import ingest_dataset
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import write_json
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import get_language
from tipr_bench.demo_training import BackgroundTraining, TrainingJob, decode_threads
from tipr_bench.translate import BackendOptions, DecodingParams, build_backend, bundled_converted

RELEASE_NAME = "tipr-sample-m"
# The sample's captions are 20-40 words; Gemma-3-270M's answers that end by themselves are at most 55
# tokens long (Chinese or English, measured on the demo's sample), while one that rambles runs on
# alone, a slow step at a time, until max_tokens; it is flagged as truncated and retried either way.
DEMO_PARAMS = DecodingParams(max_tokens=80)
# The true argmax never ranked below 9th in the int8 scores over 662 decoding steps of demo captions:
# 64 candidates leave a wide margin, for a few more logits per row.
DEMO_SHORTLIST = 64
# Rows decoded at once when translating. A step's cost grows slower than its rows, and each pass ends with
# a few long rows decoding alone: the 602 demo captions took 194 s in passes of at most 192 (4 of about
# 151) against 232 s in passes of 64, the same answers (2 threads); 384 at once was slower than 64.
TRANSLATE_BATCH_SIZE = 192
# Refine's rewrite prompts are twice as long (the glossary line first, so nothing is shared), and a big
# pass of them is slower: 124 rewrites took 118-130 s in passes of 62 against 138-153 s in one (1 thread).
REFINE_BATCH_SIZE = 64
RELEASE_VERSION = "0.1.0"


@dataclass
class DemoOptions:
    """The demo's settings. `backend` is how to reach the translator as the user gave it (the offline
    transformers default); construction adds the demo's own decoding settings to it."""

    work: Path = Path("demo-work")
    persons: int = 100
    refine_split: str | None = "test"  # the split people review and publish; None refines every split
    seed: int = 0
    lang: str = "zh"
    backend: BackendOptions = field(default_factory=lambda: BackendOptions(backend="transformers"))
    # 15 and 25 epochs reached the same test en R@1 (11.3, chance 5.2) from one demo workspace, mAP 17.3
    # and 16.4; 15 takes 40% less time (the tiny config's own 12 are tuned for larger samples)
    epochs: int = 15
    progress: bool = True

    def __post_init__(self) -> None:
        """Every option checked before the demo writes anything or loads a model."""
        self.lang = get_language(self.lang).code
        if self.lang == "en":
            raise UserError("--lang en: the demo translates English captions; pick a target such as zh")
        if self.persons < 3:
            raise UserError(f"--persons {self.persons}: the demo needs at least 3 (one each for train, val, test)")
        if self.epochs < 1:
            raise UserError(f"--epochs {self.epochs}: must be 1 or more")
        self.backend = self.backend.with_(**demo_decoding(self.backend.name, self.lang))

    @property
    def local(self) -> bool:
        """Whether the translator runs in this process (its time is this machine's, not a server's)."""
        return self.backend.name == "transformers"


def demo_decoding(backend: str, lang: str) -> dict:
    """The demo writes the target language (translations, rewrites) and English (back-translations)
    only, so the offline model's output layer is cut to those two scripts, and its greedy steps
    choose from a shortlist of the layer's int8 scores (the output layer is half a step's work)."""
    local = backend == "transformers"
    return {"batch_size": TRANSLATE_BATCH_SIZE, "max_tokens": DEMO_PARAMS.max_tokens,
            "output_langs": ("en", lang) if local else (), "shortlist": DEMO_SHORTLIST if local else 0}


@dataclass
class Stage:
    name: str
    summary: str
    output: str
    seconds: float


@dataclass
class DemoResult:
    stages: list[Stage] = field(default_factory=list)
    leaderboard: str = ""
    report: str = ""
    chance_r1: float = 0.0
    seconds: float = 0.0  # the whole run, wall clock: the stages, loading the translator, set-up


@dataclass(frozen=True)
class DemoFolders:
    """Where each stage writes, under the demo's work folder."""

    sample: Path
    workspace: Path
    releases: Path
    downloads: Path
    report: Path

    @classmethod
    def under(cls, work: Path) -> DemoFolders:
        return cls(work / "sample", work / "workspace", work / "releases", work / "downloads", work / "report")


class _Stages:
    """Runs the stages one by one, timing each and reporting it as it ends."""

    def __init__(self, result: DemoResult, on_stage: Callable[[Stage], None]):
        self.result, self.on_stage = result, on_stage

    def run(self, name: str, step: Callable[[], tuple[str, object]]) -> object:
        """Run one stage; its output (a path) is returned too, for the stages after it."""
        started = time.perf_counter()
        summary, output = step()
        done = Stage(name, summary, str(output), time.perf_counter() - started)
        self.result.stages.append(done)
        self.on_stage(done)
        return output


def run_demo(opts: DemoOptions, on_stage: Callable[[Stage], None] = lambda s: None) -> DemoResult:
    started = time.perf_counter()
    result = DemoResult()
    stages, where = _Stages(result, on_stage), DemoFolders.under(opts.work)
    opts.work.mkdir(parents=True, exist_ok=True)
    stages.run("sample", lambda: _sample(opts, where))
    ws = Workspace.open(where.workspace, writer="tipr-bench demo")  # a second demo here is refused, not doubled
    with ExitStack() as stack:
        stack.callback(ws.close)
        stages.run("ingest", lambda: _ingest(ws, where))
        backend = build_backend(opts.backend)
        stages.run("translate", lambda: _translate(ws, opts, backend, where))
        # training reads train and val only, refine changes test only: train beside refine (demo_training)
        fingerprint = _training_fingerprint(ws, opts)
        training = _start_training(where.workspace, opts, fingerprint)
        if isinstance(training, BackgroundTraining):
            stack.callback(training.stop)
        _share_cores(backend, training, opts)
        stages.run("refine", lambda: _refine(ws, opts, backend, where, result))
        stages.run("export", lambda: _export(ws, opts, where))
        stages.run("download", lambda: _download(opts, where))
        best = stages.run("train", lambda: _train(opts, training, fingerprint))
        stages.run("evaluate", lambda: _evaluate(ws, opts, best, where, result))
        from tipr_bench.baselines.leaderboard import to_markdown

        result.leaderboard = to_markdown(ws.results())
    result.seconds = time.perf_counter() - started
    return result


def _sample(opts: DemoOptions, where: DemoFolders) -> tuple[str, Path]:
    from tipr_bench.sample import generate_sample

    s = generate_sample(where.sample, persons=opts.persons, seed=opts.seed, progress=opts.progress)
    return f"{s.persons} persons, {s.images} images, {s.captions} English captions", where.sample


def _ingest(ws: Workspace, where: DemoFolders) -> tuple[str, Path]:
    r = ingest_dataset(ws, where.sample, "cuhk-pedes")
    splits = ", ".join(f"{s.split} {s.captions}" for s in r.splits)
    c = r.captions
    return f"{c.added} added, {c.unchanged} unchanged ({splits})", where.workspace


def _translate(ws: Workspace, opts: DemoOptions, backend, where: DemoFolders) -> tuple[str, Path]:
    from tipr_bench.translate import default_prompt, translate_jobs, workspace_jobs

    jobs, _kept = workspace_jobs(ws, opts.lang)
    r = translate_jobs(ws, jobs, backend, default_prompt(backend), DEMO_PARAMS, progress=opts.progress)
    return (f"{r.done} captions -> {opts.lang} with {backend.name} {backend.model.split('@')[0]} "
            f"({r.cached} cached, {r.flagged} flagged, {r.failed} failed)"), where.workspace


def _share_cores(backend, training: Path | BackgroundTraining, opts: DemoOptions) -> None:
    """A local translator lends a core to training while it runs beside refine, and refines in smaller
    passes (its prompts are longer)."""
    if isinstance(training, BackgroundTraining) and hasattr(backend, "threads_per_pass"):
        import torch

        backend.threads_per_pass = decode_threads(training, torch.get_num_threads())
    if opts.local:
        backend.batch_size = REFINE_BATCH_SIZE


def _refine(ws: Workspace, opts: DemoOptions, backend, where: DemoFolders, result: DemoResult) -> tuple[str, str]:
    from tipr_bench.refine import refine_language

    s = refine_language(ws, opts.lang, backend, split=opts.refine_split, rewrite="glossary", rounds=1,
                        max_tokens=DEMO_PARAMS.max_tokens, report_dir=where.report, progress=opts.progress)
    result.report = s.report[0] if s.report else str(where.report)
    verdicts = ", ".join(f"{k} {v}" for k, v in s.verdicts.items() if v)
    terms = f"{s.term_match_rate:.0%}" if s.term_match_rate is not None else "n/a"
    scope = f"{opts.refine_split} split" if opts.refine_split else "all splits"
    return (f"{scope}: {verdicts}; term match {terms}; QE threshold {s.qe_threshold:.2f}; "
            f"{s.improved} rewritten for the better"), result.report


def _export(ws: Workspace, opts: DemoOptions, where: DemoFolders) -> tuple[str, Path]:
    from tipr_bench.refine import REWRITE_PROMPTS
    from tipr_bench.release import export_release
    from tipr_bench.release.export import ReleaseExists, next_patch
    from tipr_bench.translate import prompt_texts

    version = RELEASE_VERSION
    while True:  # a version the workspace has changed since is kept; the next one holds the change
        try:
            r = export_release(ws, RELEASE_NAME, version, where.releases, langs=["en", opts.lang],
                               prompt_texts=prompt_texts(REWRITE_PROMPTS))
        except ReleaseExists as exists:
            if exists.matches is False:
                version = next_patch(version)
                continue
            return (f"{RELEASE_NAME}@{version} already exported and matches the workspace (versions are "
                    "immutable)"), where.releases / RELEASE_NAME / version
        return f"{RELEASE_NAME}@{version}: {len(r.files)} files, manifest {r.manifest_sha256[:12]}", r.path


def _download(opts: DemoOptions, where: DemoFolders) -> tuple[str, Path]:
    from tipr_bench.release import download_release, verify_release

    with serve(where.releases) as url:
        d = download_release(f"{RELEASE_NAME}@latest", index=f"{url}/index.json", out=where.downloads,
                             progress=opts.progress)
    v = verify_release(d.path)
    state = "verified" if v.ok else "NOT intact: " + "; ".join(v.problems)
    how = "already present" if d.already_present else f"{d.files} files over HTTP from {url}"
    return f"{d.name}@{d.version} {how}; {state}", d.path


def _train(opts: DemoOptions, training: Path | BackgroundTraining, fingerprint: str) -> tuple[str, Path]:
    """The background training's end (its checkpoint is the output), or the checkpoint reused."""
    if not isinstance(training, BackgroundTraining):
        return f"reused {training} (same data and settings)", training
    done = training.result(progress=opts.progress)
    write_json(opts.work / "train.json", {"fingerprint": fingerprint, "best": str(done.best)})
    loss = f", last epoch loss {done.last_loss:.3f}" if done.last_loss is not None else ""
    threads = training.job.threads
    cores = "one core" if threads == 1 else f"{threads} threads"
    return f"tiny config, {done.epochs} epochs in {done.seconds:.0f} s beside refine ({cores}){loss}", done.best


def _evaluate(ws: Workspace, opts: DemoOptions, best: Path, where: DemoFolders,
              result: DemoResult) -> tuple[str, Path]:
    from tipr_bench.baselines.bi_irra.inference import chance_r1
    from tipr_bench.baselines.evaluator import evaluate_bi_irra, load_split

    scores = []
    for lang in ("en", opts.lang):
        out = evaluate_bi_irra(ws, dataset="cuhk-pedes", split="test", lang=lang, checkpoint=best,
                               progress=opts.progress)
        scores.append(f"{lang} R@1 {out.metrics['t2i']['R1']:.1f}")
    split = load_split(ws, "cuhk-pedes", "test", "en")
    result.chance_r1 = chance_r1(split.query_pids, split.gallery_pids)
    return f"test {', '.join(scores)} (chance {result.chance_r1:.1f})", where.workspace


# A first run's stage seconds in a fresh clone on 2 quiet cores with an empty model cache (2026-11-26: 9.7 min
# wall, the slower of two runs translating 192 rows a pass; the other, with refine's 64 a pass, took 8.6), with
# translate holding the translator's load from the cache too (about 21 s) and FIRST_LOAD_SECONDS the conversion
# on top. Training runs beside refine, so refine holds its cost and the train stage is what is left of it. The
# matmul probe below reads 50-100 GFLOP/s on those idle cores (77 in that run), so REFERENCE_GFLOPS is the low
# end: the estimate never promises less than that run. The same code on 2 cores under a load of 5-8 read 11
# GFLOP/s and took 2.8x as long: time grows with about the square root of the probe's slowdown (the model
# stages wait on memory as much as on arithmetic), so the estimate scales by that.
REFERENCE_GFLOPS = 50.6
REFERENCE_SECONDS = {"sample": 6.0, "ingest": 1.0, "translate": 226.0, "refine": 290.0, "export": 1.0,
                     "download": 1.0, "train": 0.0, "evaluate": 10.0}
TRAIN_ALONE_SECONDS = 151.0  # training with both cores: beside a server's refine it may all be left to wait for
# A new machine's first run assembles the bundled translator's GGUF and converts it into the model cache
# before translating: on 2 cores it loaded in 58 s against 10 s from the cache (bench/local_backend_speed.py).
FIRST_LOAD_SECONDS = 48.0
MODEL_STAGES = ("translate", "refine")  # their time is the server's when the backend is not local


@dataclass
class DemoPlan:
    stages: dict[str, float | None]  # estimated seconds of a first run; None: up to the translation server
    gflops: float
    reused: bool  # a previous run's work is there, so this run takes less
    converts: bool = False  # the bundled translator is not converted yet: translate's estimate holds that

    @property
    def minutes(self) -> float:
        return sum(s for s in self.stages.values() if s) / 60


def plan_demo(opts: DemoOptions) -> DemoPlan:
    """The stages and their estimated time on this machine now, from a one-second timing of it."""
    gflops = matmul_gflops()
    # never below the measured run: the probe reads 50-100 GFLOP/s on the same idle 2 cores
    scale = max(1.0, (REFERENCE_GFLOPS / gflops) ** 0.5)
    local = opts.local
    stages = {name: (None if name in MODEL_STAGES and not local else seconds * scale)
              for name, seconds in REFERENCE_SECONDS.items()}
    if not local:
        stages["train"] = TRAIN_ALONE_SECONDS * scale
    converts = local and opts.backend.model is None and not bundled_converted()
    if converts:
        stages["translate"] += FIRST_LOAD_SECONDS * scale
    return DemoPlan(stages, gflops, reused=(opts.work / "train.json").is_file(), converts=converts)


def matmul_gflops(seconds: float = 1.0) -> float:
    """float32 matmul throughput now, with the threads the translator would use: the demo's model stages
    are matmuls of this shape (a batch of hidden states through a 640 x 2048 layer), and training too."""
    import torch

    from tipr_bench.core.devices import cpu_threads

    threads = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    try:
        a, b = torch.randn(64, 640), torch.randn(640, 2048)
        torch.mm(a, b)
        runs, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            torch.mm(a, b)
            runs += 1
    finally:
        torch.set_num_threads(threads)
    return runs * 2 * 64 * 640 * 2048 / elapsed / 1e9


def _start_training(ws_dir: Path, opts: DemoOptions, fingerprint: str) -> Path | BackgroundTraining:
    """The checkpoint a previous run trained on the same data, or a training run started in the background."""
    marker = opts.work / "train.json"
    if marker.is_file():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        if previous.get("fingerprint") == fingerprint and Path(previous["best"]).is_file():
            return Path(previous["best"])
    from tipr_bench.core.devices import cpu_threads

    # beside a local translator training keeps one core; beside a server it may use them all
    return BackgroundTraining(TrainingJob(ws_dir, opts.lang, opts.epochs, opts.seed,
                                          threads=1 if opts.local else cpu_threads()))


def _training_fingerprint(ws: Workspace, opts: DemoOptions) -> str:
    """What training reads (train and val captions in both languages) and its settings: refine's
    changes to the test split do not make a trained checkpoint stale."""
    digest = hashlib.sha256(json.dumps([opts.lang, opts.epochs, opts.seed]).encode())
    for split in ("train", "val"):
        for lang in ("en", opts.lang):
            for c in ws.captions("cuhk-pedes", split, lang=lang):
                digest.update(f"{c.key}\x1f{c.text}\x1e".encode())
    return digest.hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the demo prints its own summary
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a free port) for as long as the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
