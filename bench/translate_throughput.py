"""Translation throughput, resume time and memory, against a loopback OpenAI-compatible server.

Prints figures and ratios (nothing here is a timed test):
1. captions/s for N captions (default 10k) through `translate_jobs` + the openai backend, with the
   server answering at 0 ms and at 100 ms, next to two references measured in the same run:
   - the bare client: the same AsyncOpenAI + aiohttp client posting the same requests, 64 in flight,
     with no runner (no cache, checks or storage): the tool/bare ratio is what the tool costs;
   - plain aiohttp posting the same bodies without the SDK: the floor the loopback and machine allow;
   - the ideal at 100 ms: concurrency / latency captions/s;
   and the tool's own overhead: the runner with an in-process backend that answers instantly.
2. resume: a run whose 80k captions are all cached, timed in-process and as a fresh `tipr-bench
   translate` process (interpreter start and imports included); the server must see 0 requests.
3. peak memory (max RSS of a fresh process) for a full run over 200k captions and its resume.

The server runs as its own process (tests/support/openai_server.py) so client and server do not
share one interpreter. Targets (issue 3): >= 1,000 captions/s of tool overhead at 0 ms; >= 90% of
ideal at 100 ms; resume over 80k cached captions < 10 s; peak memory < 1 GB at 200k captions.

    .venv/bin/python bench/translate_throughput.py [--captions 10000] [--resume 80000] [--memory 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.translate_data import make_workspace  # noqa: E402
from tipr_bench.benchmark.store import Workspace  # noqa: E402
from tipr_bench.translate import translate_jobs, workspace_jobs  # noqa: E402
from tipr_bench.translate.backends.base import Completion, DecodingParams  # noqa: E402
from tipr_bench.translate.backends.openai_backend import OpenAIBackend  # noqa: E402
from tipr_bench.translate.options import BackendOptions  # noqa: E402
from tipr_bench.translate.prompts import get_prompt  # noqa: E402

CONCURRENCY = 64
MODEL = "bench-model"
LDAT = get_prompt("ldat")


class InstantBackend:
    """Answers at once, in process: isolates the runner's own cost (render, key, check, store). It takes
    the openai backend's identity so that the cache it fills is what an openai run finds."""

    name = "openai"
    model = MODEL
    concurrency = CONCURRENCY
    retries = 0
    unreachable: set[str] = set()

    async def complete(self, messages, params: DecodingParams) -> Completion:
        text = messages[-1]["content"]
        return Completion("译" * max(2, len(text) // 4), len(text) // 4, len(text) // 12)

    async def aclose(self) -> None:
        return None


class Server:
    def __init__(self, latency: float):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.openai_server", "--latency", str(latency)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.proc.stdout.readline().strip()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait()


def fresh_workspace(n: int) -> tuple[Workspace, list]:
    root = Path(tempfile.mkdtemp(prefix="tipr-bench-")) / "ws"
    make_workspace(root, n=n)
    ws = Workspace.open(root)
    return ws, workspace_jobs(ws, "zh")[0]


def timed_run(ws: Workspace, jobs, backend) -> tuple[float, float, object]:
    cpu, wall = time.process_time(), time.perf_counter()
    report = translate_jobs(ws, jobs, backend, LDAT, progress=False)
    return time.perf_counter() - wall, time.process_time() - cpu, report


def bare_client(url: str, messages: list[list[dict]], concurrency: int = CONCURRENCY) -> tuple[float, float]:
    """The reference: the same client and requests, no runner."""
    backend = OpenAIBackend(BackendOptions(backend="openai", model=MODEL, base_urls=(url,), concurrency=concurrency))
    params = DecodingParams()

    async def go() -> None:
        queue = iter(messages)

        async def worker() -> None:
            for m in queue:
                await backend.complete(m, params)

        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            await backend.aclose()

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - wall, time.process_time() - cpu


def raw_aiohttp(url: str, messages: list[list[dict]], concurrency: int = CONCURRENCY) -> tuple[float, float]:
    """The floor: the same requests over plain aiohttp, without the OpenAI SDK (no retries, no errors
    mapping): what the loopback and the machine allow."""
    import aiohttp

    bodies = [json.dumps({"model": MODEL, "messages": m}).encode() for m in messages]

    async def go() -> None:
        queue = iter(bodies)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency + 8)) as session:
            async def worker() -> None:
                for body in queue:
                    async with session.post(f"{url}/chat/completions", data=body,
                                            headers={"Content-Type": "application/json"}) as response:
                        json.loads(await response.read())

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - wall, time.process_time() - cpu


def throughput(n: int, latency: float, concurrency: int = CONCURRENCY) -> dict:
    with Server(latency) as server:
        ws, jobs = fresh_workspace(n)
        messages = [LDAT.render(j.source, j.lang) for j in jobs]
        raw_wall, raw_cpu = raw_aiohttp(server.url, messages, concurrency)
        bare_wall, bare_cpu = bare_client(server.url, messages, concurrency)
        served = BackendOptions(backend="openai", model=MODEL, base_urls=(server.url,), concurrency=concurrency)
        wall, cpu, report = timed_run(ws, jobs, OpenAIBackend(served))
        assert report.requests == n and report.failed == 0, report.summary()
        ws.close()
    return {"latency_ms": latency * 1000, "tool_per_s": n / wall, "bare_per_s": n / bare_wall,
            "tool_cpu_ms": cpu / n * 1000, "bare_cpu_ms": bare_cpu / n * 1000, "raw_per_s": n / raw_wall,
            "raw_cpu_ms": raw_cpu / n * 1000}


def resume(n: int) -> dict:
    ws, jobs = fresh_workspace(n)
    fill_wall, _, _ = timed_run(ws, jobs, InstantBackend())
    with Server(0.0) as server:
        served = BackendOptions(backend="openai", model=MODEL, base_urls=(server.url,))
        lib_wall, lib_cpu, report = timed_run(ws, jobs, OpenAIBackend(served))
        assert report.requests == 0 and report.cached == n, report.summary()
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "tipr_bench", "translate", "--lang", "zh", "--base-url", server.url,
             "--model", MODEL, "-w", str(ws.root), "--json"],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OPENAI_API_KEY": ""},
        )
        cli_wall = time.perf_counter() - started
        summary = json.loads(out.stdout)
        assert summary["requests"] == 0 and summary["cached"] == n, out.stdout + out.stderr
    startup = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); "
                              "import tipr_bench.cli; print(time.perf_counter() - t)"],
                             cwd=ROOT, capture_output=True, text=True)
    ws.close()
    return {"captions": n, "fill_instant_s": fill_wall, "resume_library_s": lib_wall, "resume_cpu_s": lib_cpu,
            "resume_cli_s": cli_wall,
            "cli_import_s": float(startup.stdout.strip() or "nan")}


def memory_child(n: int) -> None:
    """Run in a fresh process: a full run over n captions, then its resume; print max RSS after each."""
    ws, jobs = fresh_workspace(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, _, report = timed_run(ws, jobs, InstantBackend())
    after_run = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall2, _, report2 = timed_run(ws, jobs, InstantBackend())
    after_resume = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"captions": n, "rss_after_setup_mb": base / 1024, "rss_run_mb": after_run / 1024,
                      "rss_resume_mb": after_resume / 1024, "run_s": wall, "resume_s": wall2,
                      "done": report.done, "cached_on_resume": report2.cached}))


def memory(n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(n)], cwd=ROOT, capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=10_000)
    parser.add_argument("--resume", type=int, default=80_000)
    parser.add_argument("--memory", type=int, default=200_000)
    parser.add_argument("--only", choices=("overhead", "throughput", "resume", "memory"), action="append",
                        help="run only these parts (repeatable); default: all")
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)

    parts = set(args.only or ("overhead", "throughput", "resume", "memory"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"concurrency {CONCURRENCY}\n")
    if "overhead" in parts:
        overhead(args.captions)
    if "throughput" in parts:
        for latency in (0.0, 0.1):
            report_throughput(args.captions, latency)
        # the same at 16 in flight, where the client needs little CPU: shows the latency hiding itself
        report_throughput(max(1, args.captions // 5), 0.1, 16)
    if "resume" in parts:
        report_resume(args.resume)
    if "memory" in parts:
        report_memory(args.memory)


def overhead(n: int) -> None:
    ws, jobs = fresh_workspace(n)
    wall, cpu, report = timed_run(ws, jobs, InstantBackend())
    ws.close()
    print(f"tool overhead (runner + instant in-process backend, {n:,} captions): "
          f"{n / wall:,.0f} captions/s, {cpu / n * 1000:.3f} ms CPU per caption (target >= 1,000/s)")


def report_throughput(n: int, latency: float, concurrency: int = CONCURRENCY) -> None:
    r = throughput(n, latency, concurrency)
    line = (f"loopback server at {r['latency_ms']:.0f} ms, {n:,} captions, {concurrency} in flight: tool "
            f"{r['tool_per_s']:,.0f}/s ({r['tool_cpu_ms']:.2f} ms CPU each, so {1000 / r['tool_cpu_ms']:,.0f}/s "
            f"on one free core), bare client {r['bare_per_s']:,.0f}/s ({r['bare_cpu_ms']:.2f} ms CPU each), "
            f"tool/bare {r['tool_per_s'] / r['bare_per_s']:.2f}; plain aiohttp without the SDK "
            f"{r['raw_per_s']:,.0f}/s ({r['raw_cpu_ms']:.2f} ms CPU each)")
    if latency:
        ideal = concurrency / latency
        line += (f"; ideal {ideal:,.0f}/s: tool {r['tool_per_s'] / ideal:.0%} of ideal, bare "
                 f"{r['bare_per_s'] / ideal:.0%}, plain aiohttp {r['raw_per_s'] / ideal:.0%} (target >= 90%)")
    print(line)


def report_resume(n: int) -> None:
    r = resume(n)
    print(f"resume over {r['captions']:,} cached captions: {r['resume_library_s']:.2f} s in-process "
          f"({r['resume_cpu_s']:.2f} s CPU), "
          f"{r['resume_cli_s']:.2f} s as a fresh `tipr-bench translate` process (of which importing the CLI "
          f"{r['cli_import_s']:.2f} s); 0 requests (target < 10 s; filling the cache took "
          f"{r['fill_instant_s']:.1f} s with the instant backend)")


def report_memory(n: int) -> None:
    m = memory(n)
    print(f"peak memory at {m['captions']:,} captions: max RSS {m['rss_run_mb']:,.0f} MB after a full run "
          f"({m['run_s']:.1f} s), {m['rss_resume_mb']:,.0f} MB after its resume ({m['resume_s']:.1f} s); "
          f"{m['rss_after_setup_mb']:,.0f} MB after building the workspace (target < 1 GB)")


if __name__ == "__main__":
    main()
