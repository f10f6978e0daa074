"""Any OpenAI-compatible chat server (OpenAI, vLLM, SGLang, llama.cpp server) through `AsyncOpenAI`.

Speed on a small machine is the client's CPU per request, so this uses the aiohttp transport
(measured ~7x less CPU per request than the default httpx one), posts a plain JSON body and reads the
raw JSON answer (skipping the SDK's per-request type transforms and pydantic models), and does no
per-request logging. Several base URLs are used round-robin; one that refuses connections is set
aside for a while (a circuit breaker: 5 s, doubling to 60 s while it keeps refusing) and its requests
go to the live ones at once, without using up their retries; the run summary names it.
The SDK's own retries are off (max_retries=0) so that this module decides: bounded retries with
exponential backoff and jitter on 429, 5xx, timeouts, dropped connections and malformed bodies,
honouring Retry-After. The API key is read from the environment and kept only in memory.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from tipr_bench.core.errors import UserError, brief
from tipr_bench.translate.backends.base import Completion, DecodingParams, Message
from tipr_bench.translate.cost import message_tokens
from tipr_bench.translate.throttle import RateLimiter

if TYPE_CHECKING:  # the record is handed in whole; this module never builds one
    from tipr_bench.translate.options import BackendOptions

try:  # the SDK's HTTP layer (httpx2 in openai 3.x, httpx before)
    import httpx2 as _httpx
except ImportError:  # pragma: no cover - older openai
    import httpx as _httpx

_HINTS = {
    401: " (check the API key in ${env})",
    403: " (check the API key in ${env} and its access to the model)",
    404: " (check --base-url, which usually ends in /v1, and --model)",
}
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
MAX_RETRY_AFTER = 120.0
SET_ASIDE_S = 5.0  # how long a base URL that refused a connection gets no requests; doubles per refusal
SET_ASIDE_MAX_S = 60.0


class BackendError(Exception):
    """A request that failed for good (a 4xx other than 429, or retries used up)."""


def _retry_after(response) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if any."""
    if response is None:
        return None
    headers = response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return min(MAX_RETRY_AFTER, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return min(MAX_RETRY_AFTER, max(0.0, parsed.timestamp() - time.time()))


class OpenAIBackend:
    """AsyncBackend over one or more OpenAI-compatible servers."""

    name = "openai"

    def __init__(self, options: BackendOptions, *, backoff_base: float = 0.5, backoff_max: float = 30.0):
        """`options` is checked already (`BackendOptions.validate`); the API key is read here, from the
        variable it names, and kept only in memory. `backoff_*` shape the waits between retries."""
        api_key = os.environ.get(options.api_key_env)
        if not options.base_urls and not api_key:
            raise UserError(
                f"no API key: set the environment variable {options.api_key_env} (or name another with "
                "--api-key-env), or pass --base-url for a server that needs none"
            )
        self.model = options.model
        self.api_key_env = options.api_key_env
        self.base_urls: tuple[str | None, ...] = tuple(u.rstrip("/") for u in options.base_urls) or (None,)
        self.concurrency = options.concurrency
        self.timeout = options.timeout
        self.max_retries = options.max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.limiter = RateLimiter(options.rpm, options.tpm)
        self.retries = 0  # retried requests, for the run summary
        # Local servers accept any key; the real one stays in this closure, never in an attribute repr.
        self._api_key = lambda: api_key or "EMPTY"
        self._clients: list[AsyncOpenAI] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._turn = 0
        self._down_until = [0.0] * len(self.base_urls)  # monotonic time each URL is set aside until
        self._refusals = [0] * len(self.base_urls)
        self.unreachable: set[str] = set()  # base URLs that refused connections, for the run summary

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_urls={self.base_urls!r})"

    def _ensure_clients(self) -> None:
        # aiohttp sessions belong to one event loop; make new ones when the loop changes.
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._clients:
            return
        limits = _httpx.Limits(max_connections=self.concurrency + 8, max_keepalive_connections=self.concurrency + 8)
        self._clients = [
            AsyncOpenAI(
                api_key=self._api_key(), base_url=url, max_retries=0, timeout=self.timeout,
                http_client=DefaultAioHttpClient(timeout=self.timeout, limits=limits),
            )
            for url in self.base_urls
        ]
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._loop = loop

    def _next_client(self) -> int:
        """The next base URL (its index) that is not set aside; if all are, the one back soonest."""
        now, n = time.monotonic(), len(self._clients)
        for _ in range(n):
            self._turn += 1
            if self._down_until[self._turn % n] <= now:
                return self._turn % n
        return min(range(n), key=self._down_until.__getitem__)

    def _set_aside(self, i: int) -> bool:
        """Take a URL that refused a connection out of the rotation; True when another one is live."""
        now = time.monotonic()
        if self._down_until[i] <= now:  # refusals of requests sent before it was set aside do not escalate
            self._refusals[i] += 1
            self._down_until[i] = now + min(SET_ASIDE_MAX_S, SET_ASIDE_S * 2 ** (self._refusals[i] - 1))
        self.unreachable.add(self.base_urls[i] or str(self._clients[i].base_url))
        return any(until <= now for until in self._down_until)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** attempt) * (0.5 + random.random())

    async def complete(self, messages: Sequence[Message], params: DecodingParams) -> Completion:
        self._ensure_clients()
        estimate = message_tokens(messages) + params.max_tokens // 4 if self.limiter.tokens else 0
        await self.limiter.acquire(estimate)
        args = chat_args(self.model, params)
        async with self._semaphore:
            attempt = 0
            while True:
                try:
                    # `post` with a plain body skips the SDK's per-request TypedDict transform of the
                    # messages (a third of the client's CPU per request, measured) and its pydantic parse.
                    turn = self._next_client()
                    client = self._clients[turn]
                    raw = await client.post(
                        "/chat/completions", cast_to=_httpx.Response, body={**args, "messages": messages})
                    completion = _parse(raw.content)
                    self.limiter.settle(estimate, completion.tokens_in + completion.tokens_out)
                    self._refusals[turn] = 0
                    return completion
                except openai.APIStatusError as exc:
                    if exc.status_code not in RETRY_STATUSES:
                        hint = _HINTS.get(exc.status_code, "").format(env=self.api_key_env)
                        raise BackendError(
                            f"HTTP {exc.status_code} from the server{hint}: {self._redact(exc.message)}") from None
                    problem, wait = f"HTTP {exc.status_code}", _retry_after(exc.response)
                except openai.APITimeoutError as exc:
                    # the aiohttp transport reports a refused connection as a connect timeout
                    refused = _refused(exc)
                    if refused and self._set_aside(turn):
                        self.retries += 1
                        continue  # another server is live: send it there now, keeping this request's retries
                    problem = f"cannot connect to {client.base_url} ({refused}); check --base-url" if refused \
                        else f"timeout after {self.timeout:g}s"
                    wait = None
                except openai.APIConnectionError as exc:
                    if _refused(exc) and self._set_aside(turn):
                        self.retries += 1
                        continue
                    problem, wait = f"connection error ({self._redact(str(exc))})", None
                except (ValueError, KeyError, IndexError, TypeError):
                    problem, wait = "malformed response body", None
                if attempt >= self.max_retries:
                    tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
                    raise BackendError(f"{problem}; gave up after {tries}") from None
                self.retries += 1
                await asyncio.sleep(self._backoff(attempt) if wait is None else wait)
                attempt += 1

    def _redact(self, message: str) -> str:
        """A server's error text, short, with the API key (should a server echo it) masked."""
        message = brief(message)
        key = self._api_key()
        return message.replace(key, "***") if key != "EMPTY" else message

    async def aclose(self) -> None:
        clients, self._clients, self._loop = self._clients, [], None
        for client in clients:
            await client.close()


def chat_args(model: str, params: DecodingParams) -> dict:
    """The chat-completions request fields besides the messages (shared with Batch-API export)."""
    args = {"model": model, "temperature": params.temperature, "top_p": params.top_p, "max_tokens": params.max_tokens}
    if params.seed is not None:
        args["seed"] = params.seed
    if params.stop:
        args["stop"] = list(params.stop)
    return args


def _parse(body: bytes) -> Completion:
    return completion_from_body(json.loads(body))


def completion_from_body(data: dict) -> Completion:
    """A chat-completion response body as a Completion (raises KeyError/TypeError/IndexError if malformed)."""
    choice = data["choices"][0]
    text = choice["message"].get("content") or ""
    usage = data.get("usage") or {}
    return Completion(
        text=text, tokens_in=int(usage.get("prompt_tokens") or 0),
        tokens_out=int(usage.get("completion_tokens") or 0), finish_reason=choice.get("finish_reason") or "stop",
    )


def _refused(exc: BaseException) -> str:
    """Why the connection could not be made, if that is what a 'timeout' really was; else ''."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "Cannot connect to host" in str(seen):
            return brief(str(seen))
        seen = seen.__cause__ or seen.__context__
    return ""
