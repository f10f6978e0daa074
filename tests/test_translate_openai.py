"""The openai backend against a real loopback OpenAI-compatible server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.openai_server import OpenAIServer
from tipr_bench.core.errors import UserError
from tipr_bench.translate import build_backend
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.openai_backend import BackendError, OpenAIBackend
from tipr_bench.translate.options import BackendOptions
from tipr_bench.translate.prompts import get_prompt
from tipr_bench.translate.throttle import RateLimiter

MESSAGES = get_prompt("ldat").render("A woman wearing a red jacket.", "zh")
PARAMS = DecodingParams()


def backend(*urls: str, **options) -> OpenAIBackend:
    options.setdefault("timeout", 2.0)
    return OpenAIBackend(BackendOptions(backend="openai", model="test-model", base_urls=urls, **options),
                         backoff_base=0.01)


def complete(b: OpenAIBackend, messages=MESSAGES, params=PARAMS):
    async def go():
        try:
            return await b.complete(messages, params)
        finally:
            await b.aclose()

    return asyncio.run(go())


def test_completion_text_usage_and_finish_reason():
    with OpenAIServer() as server:
        result = complete(backend(server.base_url))
    assert result.text == "一个女人穿着一个红色夹克。"
    assert result.tokens_in > 0 and result.tokens_out > 0 and result.finish_reason == "stop"
    body = server.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.0 and body["max_tokens"] == 256
    assert body["messages"] == MESSAGES


def test_429_waits_for_retry_after_then_succeeds():
    with OpenAIServer() as server:
        server.set_fault("429", retry_after=0.4)
        b = backend(server.base_url)
        started = time.monotonic()
        result = complete(b)
        waited = time.monotonic() - started
    assert result.text and server.request_count == 2 and b.retries == 1
    assert waited >= 0.4  # honoured Retry-After (the backoff alone would be ~0.01 s)


@pytest.mark.parametrize("kind", ["500", "malformed", "drop"])
def test_transient_failures_are_retried(kind):
    with OpenAIServer() as server:
        server.set_fault(kind, count=2)
        b = backend(server.base_url)
        result = complete(b)
    assert result.text == "一个女人穿着一个红色夹克。" and server.request_count == 3 and b.retries == 2


def test_a_hang_times_out_and_is_retried():
    with OpenAIServer() as server:
        server.set_fault("hang", hang_s=5)
        b = backend(server.base_url, timeout=0.5)
        started = time.monotonic()
        result = complete(b)
        elapsed = time.monotonic() - started
    assert result.text and server.request_count == 2 and 0.5 <= elapsed < 4


def test_retries_are_bounded():
    with OpenAIServer() as server:
        server.set_fault("500", count=10)
        with pytest.raises(BackendError, match=r"HTTP 500; gave up after 3 attempts"):
            complete(backend(server.base_url, max_retries=2))
        assert server.request_count == 3


def test_client_errors_are_not_retried_and_never_show_the_key(monkeypatch):
    monkeypatch.setenv("TIPR_TEST_KEY", "sk-secret-abc123")

    with OpenAIServer() as server:
        b = backend(server.base_url.replace("/v1", "/nope"), api_key_env="TIPR_TEST_KEY")
        with pytest.raises(BackendError, match=r"HTTP 404 from the server \(check --base-url") as info:
            complete(b)
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(b)
    assert server.request_count == 0


def test_round_robin_over_several_servers():
    with OpenAIServer() as one, OpenAIServer() as two:
        b = backend(one.base_url, two.base_url)

        async def many():
            try:
                return await asyncio.gather(*(b.complete(MESSAGES, PARAMS) for _ in range(10)))
            finally:
                await b.aclose()

        results = asyncio.run(many())
    assert len(results) == 10 and one.request_count == 5 and two.request_count == 5


def test_concurrency_is_bounded():
    with OpenAIServer(latency=0.1) as server:
        b = backend(server.base_url, concurrency=3)
        peak = 0

        async def watch(task):
            nonlocal peak
            while not task.done():
                peak = max(peak, b.concurrency - b._semaphore._value)
                await asyncio.sleep(0.01)

        async def run():
            try:
                work = asyncio.gather(*(b.complete(MESSAGES, PARAMS) for _ in range(9)))
                await asyncio.sleep(0)
                await watch(work)
                return await work
            finally:
                await b.aclose()

        started = time.monotonic()
        asyncio.run(run())
    assert peak == 3 and time.monotonic() - started >= 0.3  # 9 requests, 3 at a time, 0.1 s each


def test_rpm_limit_spaces_requests():
    with OpenAIServer() as server:
        b = backend(server.base_url, rpm=600)  # 10 per second after a burst of a minute's worth...
        b.limiter.requests.level = 0.0  # ...start empty so the limit shows at once

        async def run():
            try:
                await asyncio.gather(*(b.complete(MESSAGES, PARAMS) for _ in range(3)))
            finally:
                await b.aclose()

        started = time.monotonic()
        asyncio.run(run())
    assert time.monotonic() - started >= 0.25  # 3 requests at 10/s


def test_missing_key_or_model_is_a_user_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="set the environment variable OPENAI_API_KEY"):
        build_backend(BackendOptions(backend="openai", model="gpt-4o-mini"))
    with pytest.raises(UserError, match="needs --model"):
        BackendOptions(backend="openai", base_urls=("http://127.0.0.1:9/v1",))
    with pytest.raises(UserError, match="--backend 'nope': use one of"):
        BackendOptions(backend="nope", model="m")


def test_tpm_limit_waits_for_tokens_and_settles_real_usage():
    limiter = RateLimiter(tpm=6000)  # 100 tokens per second
    limiter.tokens.level = 0.0

    async def take():
        await limiter.acquire(50)

    started = time.monotonic()
    asyncio.run(take())
    assert time.monotonic() - started >= 0.45
    level = limiter.tokens.level
    limiter.settle(estimated=50, actual=80)  # the answer used more than estimated: pay the difference
    assert limiter.tokens.level == pytest.approx(level - 30, abs=1.0)


def test_runner_works_from_inside_a_running_event_loop(tmp_path):
    from tipr_bench.benchmark.store import Workspace
    from tipr_bench.translate import TranslationJob, translate_jobs

    jobs = [TranslationJob("k#0", "A woman wearing a red jacket.", "zh")]
    with OpenAIServer() as server, Workspace.open(tmp_path / "ws") as ws:
        async def notebook_cell():
            return translate_jobs(ws, jobs, backend(server.base_url), get_prompt("ldat"), store=False,
                                  progress=False)

        report = asyncio.run(notebook_cell())
    assert report.results["k#0"].text == "一个女人穿着一个红色夹克。"


def test_a_refused_connection_says_so_instead_of_timeout():
    """aiohttp reports a refused connection as a connect timeout; the user must be sent to --base-url."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = OpenAIBackend(BackendOptions(backend="openai", model="m", base_urls=(f"http://127.0.0.1:{port}/v1",),
                                           max_retries=0, timeout=5.0))

    async def attempt():
        try:
            await backend.complete([{"role": "user", "content": "hi"}], DecodingParams())
        finally:
            await backend.aclose()

    with pytest.raises(BackendError, match=r"cannot connect to http://127\.0\.0\.1:\d+/v1/ .*check --base-url"):
        asyncio.run(attempt())
