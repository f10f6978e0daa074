"""Base models (no chat template) get few-shot completion prompts in every refine call; chat models
get the instruction prompts. A base model cannot follow an instruction: it would ramble to max_tokens."""

from __future__ import annotations

from dataclasses import replace

from tests.support.translate_local_models import local_backend, save_causal
from tipr_bench.benchmark.records import Caption
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.refine.backtranslate import BACK_TRANSLATION_PROMPT, back_translate
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.cache import cache_key
from tipr_bench.translate.prompts import PRESETS, completion_style, default_prompt

CHAT_TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"


def _cached(ws, backend, prompt, text, lang_from, params) -> bool:
    """Whether the cache holds the first attempt of this exact request (the runner adds the prompt's stops)."""
    messages = prompt.render(text, "en", source_lang=lang_from)
    effective = replace(params, stop=tuple(dict.fromkeys(params.stop + prompt.stop)))
    key = cache_key(backend.name, backend.model, prompt.sha256, effective.as_dict(), messages, "en")
    return ws.conn.execute("SELECT 1 FROM translation_cache WHERE key = ?", (key,)).fetchone() is not None


def test_base_model_back_translates_with_fewshot(tmp_path):
    base = local_backend(str(save_causal(tmp_path / "base")), device="cpu", batch_size=4)
    chat = local_backend(str(save_causal(tmp_path / "chat", chat_template=CHAT_TEMPLATE)), device="cpu")
    assert completion_style(base) and not completion_style(chat)
    assert default_prompt(base).id == "fewshot" and default_prompt(chat).id == "ldat"

    ws = Workspace.open(tmp_path / "ws")
    ws.ingest(DatasetInfo("cuhk-pedes", str(tmp_path), str(tmp_path), "reid_raw.json", "now"),
              [Caption("cuhk-pedes", "test", 1, "a.png", 0, "en", "A man in a red coat.")])
    params = DecodingParams(max_tokens=8)
    text = "一个穿红色外套的男人。"
    back_translate(ws, base, "zh", {"cuhk-pedes/a.png#0": text}, params=params, progress=False)
    assert _cached(ws, base, PRESETS["fewshot"], text, "zh", params)
    assert not _cached(ws, base, BACK_TRANSLATION_PROMPT, text, "zh", params)
    back_translate(ws, chat, "zh", {"cuhk-pedes/a.png#0": text}, params=params, progress=False)
    assert _cached(ws, chat, BACK_TRANSLATION_PROMPT, text, "zh", params)
