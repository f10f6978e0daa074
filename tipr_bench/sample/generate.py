"""Write the bundled synthetic TIPR dataset in CUHK-PEDES layout (reid_raw.json + imgs/).

Every person, photo and caption is a pure function of (seed, person id, image index), so the same
arguments give the same bytes whatever the worker count, and a killed run resumes by drawing only
the images that are missing. reid_raw.json is written last: its presence means the sample is whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import PIL
from rich.progress import (
    Progress,
)

from tipr_bench.core.atomic import write_bytes, write_json
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress

from .appearance import Person, Shot, sample_person, sample_shot
from .captions import tokens, write_captions
from .draw import render
from .pose import sample_regions

MARKER = "tipr_sample.json"
IMAGE_DIR = "synth"
SPLITS = ("train", "val", "test")
MIN_PERSONS = 3  # one person each for train, val and test
PARALLEL_FROM = 400  # images; below this a process pool costs more than it saves
CHUNK = 48  # images per worker task


@dataclass(frozen=True)
class SampleSummary:
    persons: int
    images: int
    captions: int
    splits: dict[str, dict[str, int]]  # split -> {"persons", "images", "captions"}


@dataclass(frozen=True)
class _Image:
    file_path: str
    person: Person
    shot: Shot
    index: int


def _fingerprint() -> str:
    """Identifies the drawing code and libraries, so a resumed run never mixes two generators' images."""
    digest = hashlib.sha256(f"pillow {PIL.__version__} numpy {np.__version__}".encode())
    for name in ("appearance.py", "pose.py", "paint.py", "garments.py", "carried.py", "draw.py", "captions.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _check_args(persons: int, seed: int) -> None:
    if isinstance(persons, bool) or not isinstance(persons, int) or persons < MIN_PERSONS:
        raise UserError(
            f"--persons must be a whole number >= {MIN_PERSONS} (one person each for train, val and "
            f"test); got {persons!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"--seed must be a whole number >= 0; got {seed!r}")


def _prepare(out: Path, params: dict) -> None:
    """Make `out` ready: new, empty, or a previous sample (resumed if same params, else replaced)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; pass a new or empty folder for the sample")
    marker = out / MARKER
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise UserError(
                f"--out {out} is not empty and holds no tipr-bench sample (no {MARKER}); "
                "pass a new or empty folder"
            )
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{marker} is unreadable ({exc}); delete the folder {out} and run again") from exc
        images = out / "imgs" / IMAGE_DIR
        if previous != params:
            # Another sample lived here: drop its files (only ours) before drawing the new one.
            (out / "reid_raw.json").unlink(missing_ok=True)
            (out / "attributes.json").unlink(missing_ok=True)
            if images.is_dir():
                shutil.rmtree(images)
        elif images.is_dir():
            for stale in images.glob(".*.tmp"):  # left by a run killed mid-write
                stale.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(marker, params)


def assign_splits(persons: int, seed: int) -> dict[int, str]:
    """~70/10/20 train/val/test by person, every split non-empty, ids disjoint by construction."""
    order = np.random.default_rng([seed, 0]).permutation(persons) + 1
    n_test = max(1, round(persons * 0.2))
    n_val = max(1, round(persons * 0.1))
    split_of = {}
    for rank, pid in enumerate(order.tolist()):
        split_of[pid] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return split_of


def _render_chunk(root: str, images: list[_Image]) -> int:
    for image in images:
        write_bytes(Path(root) / image.file_path, render(image.person, image.shot))
    return len(images)


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: exit when the parent is gone (kill -9), instead of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _progress(enabled: bool) -> Progress:
    return make_progress(enabled, unit="img", transient=False)


def _draw_all(bar: Progress, root: Path, todo: list[_Image], total: int) -> None:
    resumed = total - len(todo)
    task = bar.add_task("drawing", total=total, completed=resumed, resumed=resumed)
    workers = min(_workers(), 8)
    if len(todo) < PARALLEL_FROM or workers < 2:
        for image in todo:
            bar.advance(task, _render_chunk(str(root), [image]))
        return
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    # spawn, not fork: the progress bar runs a thread, and forking a threaded process can deadlock.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = [pool.submit(_render_chunk, str(root), chunk) for chunk in chunks]
        for future in futures:
            bar.advance(task, future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C stops now, not after every queued image
        raise
    pool.shutdown()


def _describe(
    bar: Progress, images: list[_Image], split_of: dict[int, str], seed: int
) -> tuple[list[dict], dict[str, dict], dict[str, dict[str, int]]]:
    """reid_raw.json records, attributes.json entries and per-split counts."""
    task = bar.add_task("describing", total=len(images))  # counts images (two captions each), as its rate says
    records, attributes = [], {}
    counts = {split: {"persons": 0, "images": 0, "captions": 0} for split in SPLITS}
    for n, image in enumerate(images, 1):
        pid = image.person.pid
        split = split_of[pid]
        captions = write_captions(image.person, seed, image.index)
        records.append(
            {
                "split": split,
                "captions": captions,
                "file_path": image.file_path,
                "processed_tokens": [tokens(c) for c in captions],
                "id": pid,
            }
        )
        attributes[image.file_path] = {
            "id": pid,
            "split": split,
            "person": image.person.to_json(),
            "shot": image.shot.to_json(),
            "regions": sample_regions(image.person, image.shot),
        }
        counts[split]["images"] += 1
        counts[split]["captions"] += len(captions)
        counts[split]["persons"] += image.index == 0
        if n % 256 == 0 or n == len(images):
            bar.update(task, completed=n)
    return records, attributes, counts


def generate_sample(out: Path, persons: int = 200, seed: int = 0, progress: bool = True) -> SampleSummary:
    """Write a deterministic synthetic CUHK-PEDES-style dataset into `out` and summarise it."""
    _check_args(persons, seed)
    out = Path(out)
    try:
        return _generate(out, persons, seed, progress)
    except OSError as exc:  # disk full, read-only folder, ...: rerunning resumes once fixed
        where = exc.filename or out
        raise UserError(
            f"could not write the sample at {where}: {exc.strerror or exc}; "
            "free space or choose a writable --out, then rerun (finished images are kept)"
        ) from exc


def _generate(out: Path, persons: int, seed: int, progress: bool) -> SampleSummary:
    params = {
        "generator": "tipr-bench sample",
        "persons": persons,
        "seed": seed,
        "fingerprint": _fingerprint(),
    }
    _prepare(out, params)

    width = max(4, len(str(persons)))
    split_of = assign_splits(persons, seed)
    images: list[_Image] = []
    for pid in range(1, persons + 1):
        person = sample_person(seed, pid)
        for index in range(person.n_images):
            file_path = f"{IMAGE_DIR}/{pid:0{width}d}_{index + 1:02d}.png"
            images.append(_Image(file_path, person, sample_shot(seed, person, index), index))

    image_root = out / "imgs"
    todo = [image for image in images if not (image_root / image.file_path).is_file()]
    with _progress(progress) as bar:
        _draw_all(bar, image_root, todo, len(images))
        records, attributes, counts = _describe(bar, images, split_of, seed)
    write_json(out / "attributes.json", attributes, indent=None)
    write_json(out / "reid_raw.json", records, indent=None)
    return SampleSummary(
        persons=persons,
        images=len(images),
        captions=sum(len(r["captions"]) for r in records),
        splits=counts,
    )
