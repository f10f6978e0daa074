"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks (a fixture, never a backend).

It serves `/v1/chat/completions` (with usage and finish_reason) and `/v1/models`, runs in a background
thread (or, with `python -m tests.support.openai_server`, as its own process so a benchmark's client
and server do not share a core), and can inject what real servers do: latency, 429 with Retry-After,
500, hangs, dropped connections, malformed JSON, and bad translations (echo, chatter, quotes, wrong
script, empty, truncated).

The default responder makes a deterministic "translation" of the source sentence it finds in the
prompt: a small word dictionary plus a transliteration into the target script, so checks pass and
results are reproducible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

Responder = Callable[[dict], "str | tuple[str, str]"]

# -- finding the source sentence and target language in a prompt -----------------------------------

_PATTERNS = (
    re.compile(r"sentence '(?P<src>.*)' into (?P<lang>[A-Z][a-z]+)\.", re.S),  # ldat, glossary
    re.compile(r"text into (?P<lang>[A-Z][a-z]+)\. Output only.*?\n\n(?P<src>.*)$", re.S),  # strict
    re.compile(r"\n[A-Z][a-z]+: (?P<src>[^\n]*)\n(?P<lang>[A-Z][a-z]+):\s*$"),  # fewshot
)


def user_text(body: dict) -> str:
    """The text of the last user message (text parts joined when the content is a list)."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if p.get("type") == "text")
            return content
    return ""


def parse_prompt(body: dict) -> tuple[str, str]:
    """(source sentence, target language name) found in a request's prompt."""
    text = user_text(body)
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match:
            return match["src"], match["lang"]
    return text, "Chinese"


def is_strict(body: dict) -> bool:
    """True for the stricter retry prompt, so a test can misbehave on first attempts only."""
    return "Output only the translation" in user_text(body)


# -- the deterministic "translation" ---------------------------------------------------------------

_ZH = {
    "a": "一个", "an": "一个", "woman": "女人", "man": "男人", "girl": "女孩", "boy": "男孩", "person": "人",
    "red": "红色", "black": "黑色", "white": "白色", "blue": "蓝色", "green": "绿色", "yellow": "黄色",
    "grey": "灰色", "gray": "灰色", "jacket": "夹克", "shirt": "衬衫", "pants": "裤子", "trousers": "裤子",
    "shoes": "鞋子", "bag": "包", "backpack": "背包", "wearing": "穿着", "wears": "穿着", "hair": "头发",
    "long": "长", "short": "短", "and": "和", "with": "带着", "carrying": "拿着", "is": "是", "he": "他",
    "she": "她", "has": "有", "her": "她的", "his": "他的", "left": "左", "right": "右", "hand": "手",
    "skirt": "裙子", "dress": "连衣裙", "coat": "外套", "jeans": "牛仔裤", "hat": "帽子",
}
_FR = {
    "a": "une", "an": "un", "woman": "femme", "man": "homme", "red": "rouge", "black": "noir",
    "white": "blanc", "blue": "bleu", "jacket": "veste", "shirt": "chemise", "pants": "pantalon",
    "shoes": "chaussures", "bag": "sac", "wearing": "portant", "hair": "cheveux", "and": "et",
    "with": "avec", "the": "le", "is": "est", "long": "long", "carrying": "portant",
}
_DE = {
    "a": "eine", "an": "ein", "woman": "Frau", "man": "Mann", "red": "rote", "black": "schwarze",
    "white": "weiße", "blue": "blaue", "jacket": "Jacke", "shirt": "Hemd", "pants": "Hose",
    "shoes": "Schuhe", "bag": "Tasche", "wearing": "trägt", "hair": "Haare", "and": "und", "with": "mit",
    "the": "die", "is": "ist", "long": "lange",
}
_ZH_TO_EN = {v: k for k, v in sorted(_ZH.items(), reverse=True)}
# Script blocks for transliteration: (first code point, size).
_BLOCKS = {
    "Chinese": (0x4E00, 20000), "Japanese": (0x3042, 80), "Korean": (0xAC00, 11000),
    "Russian": (0x0430, 32), "Arabic": (0x0628, 20),
}
_WORD = re.compile(r"[A-Za-z]+|[^A-Za-z\s]")


def _code(word: str, salt: int = 0) -> int:
    return zlib.crc32(word.lower().encode()) + salt


def _in_block(word: str, language: str) -> str:
    first, size = _BLOCKS[language]
    n = 1 + len(word) // 4
    return "".join(chr(first + _code(word, i) % size) for i in range(n))


def fake_translate(source: str, language: str) -> str:
    """A deterministic stand-in for a translation of `source` into `language` (an English name)."""
    if language == "English":
        out, i = [], 0
        while i < len(source):
            for size in (3, 2, 1):
                word = _ZH_TO_EN.get(source[i:i + size])
                if word:
                    out.append(word)
                    i += size
                    break
            else:
                if source[i].isspace() or source[i] in "，。,.":
                    out.append({"，": ",", "。": "."}.get(source[i], source[i]))
                elif not out or out[-1] != "something":
                    out.append("something")
                i += 1
        return re.sub(r" ([,.])", r"\1", " ".join(w for w in out if not w.isspace()))
    tokens = _WORD.findall(source)
    if language == "Chinese":
        pieces = [_ZH.get(t.lower(), _in_block(t, language) if t.isalpha() else {",": "，", ".": "。"}.get(t, t))
                  for t in tokens]
        return "".join(pieces)
    if language in _BLOCKS:
        return " ".join(_in_block(t, language) if t.isalpha() else t for t in tokens).replace(" ,", ",")
    table = {"French": _FR, "German": _DE}.get(language, {})
    words = [table.get(t.lower(), t + "o") if t.isalpha() else t for t in tokens]
    return re.sub(r" ([,.])", r"\1", " ".join(words))


def translating_responder(body: dict) -> str:
    """The default responder: translate the source sentence found in the prompt."""
    source, language = parse_prompt(body)
    return fake_translate(source, language)


def misbehaving(kind: str, also_strict: bool = False, match: str | None = None) -> Responder:
    """A responder that returns a bad translation of `kind` for first attempts (or always, with
    `also_strict`), and a good one for the strict retry prompt. `match` limits it to sources
    containing that text. Kinds: echo, chatter, quotes, notes, wrong_script, empty, truncated."""

    def respond(body: dict):
        source, language = parse_prompt(body)
        good = fake_translate(source, language)
        if (is_strict(body) and not also_strict) or (match is not None and match not in source):
            return good
        if kind == "echo":
            return source
        if kind == "chatter":
            return f"Sure! Here is the translation:\n{good}"
        if kind == "quotes":
            return f"\u201c{good}\u201d"
        if kind == "notes":
            return f"{good}\n\nNote: I kept the colours as in the original."
        if kind == "wrong_script":
            return fake_translate(source, "French")
        if kind == "empty":
            return ""
        if kind == "truncated":
            return good[: max(1, len(good) // 3)], "length"
        raise ValueError(f"unknown misbehaviour {kind!r}")

    return respond


# -- faults ----------------------------------------------------------------------------------------

@dataclass
class Fault:
    kind: str  # "429", "500", "hang", "drop", "malformed"
    remaining: int
    retry_after: float | None = None
    match: str | None = None
    hang_s: float = 30.0


def _count_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIServer:
    """`with OpenAIServer(latency=0.05) as server:` then point a client at `server.base_url`.

    `server.requests` logs every chat request body (faulted ones too) unless `record=False`;
    `server.request_count` counts them either way; `server.sources` counts requests per source text and
`server.answered` the sources whose 200 answer was sent in full. `fault_rates={"429": 0.05}` fails that
share of requests at random (seeded).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        latency: float = 0.0,
        faults: list[Fault] | tuple = (),
        record: bool = True,
        models: tuple[str, ...] = ("test-model",),
        port: int = 0,
        fault_rates: dict[str, float] | None = None,
        seed: int = 0,
    ):
        self.responder = responder or translating_responder
        self.latency = latency
        self.faults: list[Fault] = list(faults)
        self.fault_rates = dict(fault_rates or {})  # "429"/"500" -> share of requests, drawn from a seeded RNG
        self._random = random.Random(seed)
        self.record = record
        self.models = models
        self.port = port
        self.requests: list[dict] = []
        self.request_count = 0
        self.sources: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()  # sources that got a 200 answer (sent in full)
        self.auth: Counter[str] = Counter()  # Authorization headers seen (tests check a key was sent)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def set_fault(
        self, kind: str, count: int = 1, *, retry_after: float | None = None, match: str | None = None,
        hang_s: float = 30.0,
    ) -> None:
        """Make the next `count` matching requests fail with `kind`."""
        with self._lock:
            self.faults.append(Fault(kind, count, retry_after, match, hang_s))

    def _draw_fault(self) -> Fault | None:
        with self._lock:
            draw = self._random.random()
        for kind, rate in self.fault_rates.items():
            if draw < rate:
                return Fault(kind, 0)
            draw -= rate
        return None

    def _take_fault(self, body: dict) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.remaining > 0 and (fault.match is None or fault.match in user_text(body)):
                    fault.remaining -= 1
                    return fault
        return None

    # -- handlers --

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw)
        with self._lock:
            self.request_count += 1
            if self.record:
                self.auth[request.headers.get("Authorization", "")] += 1
                self.requests.append(body)
                self.sources[parse_prompt(body)[0]] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(body) if self.faults else None
        if fault is None and self.fault_rates:
            fault = self._draw_fault()
        if fault is not None:
            if fault.kind == "429":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}},
                                         status=429, headers=headers)
            if fault.kind == "500":
                return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
            if fault.kind == "hang":
                await asyncio.sleep(fault.hang_s)
            elif fault.kind == "drop":
                request.transport.close()
                return web.Response(status=500)
            elif fault.kind == "malformed":
                return web.Response(body=b'{"id": "x", "choices": [', content_type="application/json")
        answer = self.responder(body)
        text, finish = answer if isinstance(answer, tuple) else (answer, "stop")
        prompt_tokens = sum(_count_tokens(json.dumps(m.get("content", ""))) + 4 for m in body["messages"])
        completion_tokens = _count_tokens(text) if text else 0
        payload = {
            "id": f"chatcmpl-{self.request_count}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        response = web.Response(body=json.dumps(payload).encode(), content_type="application/json")
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:  # the client went away (killed): this answer never arrived
            return response
        if self.record:
            with self._lock:
                self.answered[parse_prompt(body)[0]] += 1
        return response

    async def _models(self, _request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]})

    # -- lifecycle --

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> OpenAIServer:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="openai-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    """Serve in this process until killed; print the base URL as the first stdout line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = OpenAIServer(latency=args.latency, record=False, port=args.port).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
