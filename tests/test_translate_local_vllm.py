"""The vllm backend on CPU, against a stand-in `vllm` module (tests/support/vllm_standin) that keeps current
vLLM's names and signatures and decodes with a tiny real Llama: engine settings reaching `LLM(...)`, chat vs
base vs Mistral-style tokenizers, images passed through, finish reasons, a raising chunk, and the batch
files `vllm run-batch` reads. The GPU smoke test at the end needs CUDA and the real vLLM."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support.translate_data import make_workspace, run_main
from tests.support.translate_local_models import CHAT_TEMPLATE, save_causal
from tipr_bench.core.errors import UserError
from tipr_bench.translate import backend_identity, build_backend
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.local_common import raw_prompt
from tipr_bench.translate.backends.vllm_backend import VllmBackend, completion_from, vllm_model_id
from tipr_bench.translate.backends.vllm_settings import VllmSettings, parse_vllm_args
from tipr_bench.translate.options import BackendOptions
from tipr_bench.translate.prompts import default_prompt

STANDIN = Path(__file__).parent / "support" / "vllm_standin"
PARAMS = DecodingParams(max_tokens=4)
THINKING_TEMPLATE = ("{% if enable_thinking is defined and not enable_thinking %}/no_think {% endif %}"
                     + CHAT_TEMPLATE)
GUARDED_TEMPLATE = ("{% for m in messages %}{% if 'FORBIDDEN' in m['content'] %}"
                    "{{ raise_exception('the template refuses FORBIDDEN') }}{% endif %}{% endfor %}" + CHAT_TEMPLATE)
HAS_REAL_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm-models")
    mistral = save_causal(root / "mistral-like")
    (mistral / "tekken.json").write_text("{}", encoding="utf-8")  # vLLM picks its Mistral tokenizer from this
    return {"chat": save_causal(root / "chat", chat_template=GUARDED_TEMPLATE),
            "base": save_causal(root / "base"),
            "thinking": save_causal(root / "thinking", chat_template=THINKING_TEMPLATE),
            "mistral": mistral}


@pytest.fixture
def vllm(monkeypatch):
    """The stand-in as `import vllm`, removed again afterwards so other tests see no vllm."""
    monkeypatch.syspath_prepend(str(STANDIN))
    import vllm as standin

    standin.ENGINES.clear()
    standin.FAULTS.clear()
    yield standin
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        del sys.modules[name]


def backend_on(model, **settings) -> VllmBackend:
    """The vllm backend on `model` with these engine settings, as `BackendOptions.build` makes it."""
    return VllmBackend(BackendOptions(backend="vllm", model=str(model), max_tokens=16, vllm=VllmSettings(**settings)))


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 16), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_engine_settings_reach_llm_and_a_quoted_tilde_is_expanded(vllm, models, monkeypatch):
    monkeypatch.setenv("HOME", str(models["chat"].parent))
    settings = VllmSettings(max_model_len=128, tensor_parallel_size=2, gpu_memory_utilization=0.5,
                            trust_remote_code=True, extra=parse_vllm_args(["max-num-seqs=8", "served_model_name=qw"]))
    backend = build_backend(BackendOptions(backend="vllm", model="~/chat", max_tokens=16, vllm=settings))
    args = vllm.ENGINES[-1].engine_args
    assert args["model"] == str(models["chat"])
    assert (args["max_model_len"], args["tensor_parallel_size"], args["gpu_memory_utilization"],
            args["trust_remote_code"], args["max_num_seqs"], args["served_model_name"]) == (128, 2, 0.5, True, 8, "qw")
    assert backend.max_model_len == 128 and backend.model == vllm_model_id(str(models["chat"]))
    default = VllmSettings().engine_kwargs()
    assert default == {"max_model_len": 4096, "tensor_parallel_size": 1, "gpu_memory_utilization": 0.8,
                       "trust_remote_code": False}


def test_bad_settings_are_one_line_before_any_model_loads(vllm, models, tmp_path):
    with pytest.raises(UserError, match="vLLM refused the engine settings.*no_such_knob"):
        backend_on(models["chat"], max_model_len=128, extra=parse_vllm_args(["no_such_knob=1"]))
    with pytest.raises(UserError, match="use --max-model-len"):
        VllmSettings(extra=parse_vllm_args(["max_model_len=9"]))
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_vllm_args(["enforce_eager"])
    with pytest.raises(UserError, match=r"--gpu-memory-utilization.*\(0, 1\]"):
        VllmSettings(gpu_memory_utilization=1.5)
    with pytest.raises(UserError, match="--tensor-parallel-size"):
        VllmSettings(tensor_parallel_size=0)
    gguf = tmp_path / "model.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(UserError, match="does not load GGUF.*--backend transformers"):
        backend_on(gguf)
    assert vllm.ENGINES == []  # nothing was built
    assert parse_vllm_args(["enforce-eager=true", "limit_mm_per_prompt={\"image\": 1}", "quantization=fp8"]) == (
        ("enforce_eager", True), ("limit_mm_per_prompt", {"image": 1}), ("quantization", "fp8"))


def test_sampling_params_are_current_vllms(vllm):
    with pytest.raises(TypeError):
        vllm.SamplingParams(max_new_tokens=8)  # a transformers name, not vLLM's
    from tipr_bench.translate.backends.vllm_backend import sampling_kwargs

    greedy = vllm.SamplingParams(**sampling_kwargs(DecodingParams(temperature=0.0, top_p=0.5, stop=("\n",))))
    assert (greedy.temperature, greedy.top_p, greedy.stop, greedy.max_tokens) == (0.0, 1.0, ["\n"], 256)


def test_chat_model_gets_chats_with_images_and_thinking_off(vllm, models):
    backend = backend_on(models["chat"], max_model_len=128)
    assert backend.uses_chat_template and default_prompt(backend).id == "ldat"
    image_turn = [{"role": "user", "content": [{"type": "text", "text": "Describe "},
                                               {"type": "image_url", "image_url": {"url": png_data_url()}}]}]
    out = backend.complete_batch([user("a red coat"), image_turn, user("blue jeans")], PARAMS)
    engine = vllm.ENGINES[-1]
    assert len(out) == 3 and all(c.finish_reason in ("stop", "length") and not c.failure for c in out)
    assert all(c.tokens_in > 0 and c.tokens_out <= 4 for c in out)
    assert engine.images_loaded == 1 and "<|user|>Describe <image>" in engine.prompts_seen[-2]
    assert engine.prompts_seen[-1].endswith("<|user|>blue jeans\n<|assistant|>")

    thinking = backend_on(models["thinking"], max_model_len=128)
    thinking.complete_batch([user("a red coat")], PARAMS)
    assert vllm.ENGINES[-1].prompts_seen[-1].startswith("/no_think ")
    on = backend_on(models["thinking"], max_model_len=128, thinking=True)
    on.complete_batch([user("a red coat")], PARAMS)
    assert "/no_think" not in vllm.ENGINES[-1].prompts_seen[-1]
    assert on.model == thinking.model + "+thinking"  # different answers, different cache id


def test_base_model_is_probed_and_sent_the_raw_prompt(vllm, models):
    backend = backend_on(models["base"], max_model_len=128)
    assert backend.uses_chat_template is False and default_prompt(backend).id == "fewshot"
    conversation = user("English: a red coat\nChinese:")
    [completion] = backend.complete_batch([conversation], PARAMS)
    assert not completion.failure and vllm.ENGINES[-1].prompts_seen[-1] == raw_prompt(conversation)


def test_mistral_tokenizer_without_chat_template_is_a_chat_model(vllm, models):
    backend = backend_on(models["mistral"], max_model_len=128)
    assert not hasattr(backend._llm.get_tokenizer(), "chat_template")
    assert backend.uses_chat_template
    backend.complete_batch([user("a red coat")], PARAMS)
    assert vllm.ENGINES[-1].prompts_seen[-1] == "[INST]a red coat[/INST]"


def test_chat_mode_overrides_the_probe(vllm, models):
    backend = backend_on(models["chat"], max_model_len=128, chat_mode="base")
    assert backend.uses_chat_template is False and vllm.ENGINES[-1].calls == 0  # no probe was run
    backend.complete_batch([user("a red coat")], PARAMS)
    assert vllm.ENGINES[-1].prompts_seen[-1] == "a red coat"


def test_a_raising_chunk_fails_only_its_bad_prompts_each_with_its_reason(vllm, models):
    backend = backend_on(models["chat"], max_model_len=64)
    bad_image = [{"role": "user", "content": [{"type": "image_url",
                                               "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}}]}]
    long_text = "a red coat " * 40
    batch = [user(f"caption {i}") for i in range(8)]
    batch[1], batch[4], batch[6] = user(long_text), bad_image, user("FORBIDDEN words")
    out = backend.complete_batch(batch, PARAMS)
    good = [c for i, c in enumerate(out) if i not in (1, 4, 6)]
    assert all(not c.failure and c.tokens_out > 0 for c in good)
    assert "prompt is" in out[1].failure and "--max-model-len" in out[1].failure
    assert "Failed to load image" in out[4].failure
    assert "the template refuses FORBIDDEN" in out[6].failure
    assert not any(long_text in p for p in vllm.ENGINES[-1].prompts_seen)  # refused before sending


def test_finish_reasons_abort_and_error_are_retried_and_repetition_is_kept(vllm, models):
    backend = backend_on(models["chat"], max_model_len=128)
    vllm.FAULTS.update({"once": ["abort"], "always": ["error"] * 3, "loops": ["repetition"]})
    once, always, loops, fine = backend.complete_batch(
        [user("aborted once"), user("always fails"), user("it loops"), user("fine")], PARAMS)
    assert once.finish_reason in ("stop", "length") and not once.failure and once.tokens_out > 0
    assert "'error' 3 times" in always.failure
    assert loops.finish_reason == "repetition" and not loops.failure
    assert fine.finish_reason in ("stop", "length")

    def output(text, finish):
        return vllm.RequestOutput("1", None, [1, 2], None, [vllm.CompletionOutput(0, text, [5, 6, 7], None, None,
                                                                                 finish_reason=finish)], True)

    assert completion_from(output("<think>hmm</think>\n红色外套", "stop")).text == "红色外套"
    cut = completion_from(output("<think>still thinking", "length"))
    assert (cut.text, cut.finish_reason) == ("", "length")


def test_runner_keeps_the_chunk_when_one_prompt_fails(vllm, models, tmp_path):
    ws = make_workspace(tmp_path / "ws", n=6)
    args = ("translate", "--lang", "zh", "--backend", "vllm", "--model", models["chat"], "--max-model-len", "128",
            "--max-tokens", "4", "--max-flag-retries", "0", "-w", ws, "--json")
    vllm.FAULTS["number 3."] = ["error"] * 3  # one caption keeps failing
    first = run_main(*args)
    assert first.returncode == 1, first.stderr  # a failure is reported, the run is not aborted
    out = json.loads(first.stdout)
    assert (out["done"], out["failed"]) == (5, 1) and "'error' 3 times" in out["top_failure"]
    again = json.loads(run_main(*args).stdout)  # the failure was not cached: it is asked again, now answered
    assert (again["requests"], again["cached"], again["failed"]) == (1, 5, 0)


def test_cli_checks_engine_options_before_loading(vllm, models, tmp_path):
    ws = make_workspace(tmp_path / "ws", n=2)
    base = ("translate", "--lang", "zh", "--backend", "vllm", "--model", models["chat"], "-w", ws)
    for extra, message in ((("--max-model-len", "128", "--max-tokens", "200"), "leaves no room for the prompt"),
                           (("--vllm-arg", "nonsense"), "KEY=VALUE"),
                           (("--chat-mode", "maybe"), "--chat-mode 'maybe'")):
        result = run_main(*base, *extra)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert vllm.ENGINES == []


def test_batch_out_is_what_vllm_run_batch_serves(models, tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "ws", n=5)
    requests = tmp_path / "requests.jsonl"
    monkeypatch.setenv("HOME", str(models["chat"].parent))
    common = ("translate", "--lang", "zh", "--backend", "vllm", "-w", ws, "--json", "--batch-out", requests)
    out = json.loads(run_main(*common, "--model", "~/chat").stdout)
    lines = [json.loads(line) for line in requests.read_text(encoding="utf-8").splitlines()]
    served = backend_identity(BackendOptions(backend="vllm", model=str(models["chat"])))[1]
    assert out["requests"] == len(lines) == 5 and out["model"] == served
    assert {line["body"]["model"] for line in lines} == {str(models["chat"])}  # the path run-batch was given
    assert all(line["url"] == "/v1/chat/completions" for line in lines)
    assert all(line["body"]["chat_template_kwargs"] == {"enable_thinking": False} for line in lines)
    named = json.loads(run_main(*common, "--model", models["chat"], "--vllm-arg", "served_model_name=qwen").stdout)
    assert named["requests"] == 5 and json.loads(requests.read_text().splitlines()[0])["body"]["model"] == "qwen"

    refused = run_main(*common, "--model", models["base"])
    assert refused.returncode == 2 and "base model (no chat template)" in refused.stderr
    forced = run_main(*common, "--model", models["chat"], "--chat-mode", "base")
    assert forced.returncode == 2 and "serves chat completions only" in forced.stderr


def test_batch_export_splits_at_the_limits_and_imports_every_part(tmp_path):
    from tipr_bench.benchmark.store import Workspace
    from tipr_bench.translate import plan_requests, workspace_jobs
    from tipr_bench.translate.batchapi import import_batch_results, write_batch_requests
    from tipr_bench.translate.prompts import get_prompt

    root = make_workspace(tmp_path / "ws", n=7)
    with Workspace.open(root) as ws:
        jobs, _ = workspace_jobs(ws, "zh")
        pending = plan_requests(ws, jobs, "openai", "gpt-x", get_prompt("ldat"))
        files = write_batch_requests(tmp_path / "b.jsonl", pending, "gpt-x", max_requests=3)
        assert [(p.name, n) for p, n in files] == [("b.001.jsonl", 3), ("b.002.jsonl", 3), ("b.003.jsonl", 1)]
        one_line = len(files[0][0].read_bytes().splitlines()[0]) + 1
        by_size = write_batch_requests(tmp_path / "s.jsonl", pending, "gpt-x", max_bytes=2 * one_line + 10)
        assert all(p.stat().st_size <= 2 * one_line + 10 for p, _ in by_size) and sum(n for _, n in by_size) == 7
        with pytest.raises(UserError, match="over the Batch API's"):
            write_batch_requests(tmp_path / "x.jsonl", pending, "gpt-x", max_bytes=10)
        results = []
        for path, _ in files:
            answers = [{"custom_id": json.loads(line)["custom_id"], "response": {"status_code": 200, "body": {
                "choices": [{"message": {"content": "一个人"}, "finish_reason": "stop"}]}}}
                for line in path.read_text(encoding="utf-8").splitlines()]
            results.append(path.with_suffix(".out.jsonl"))
            results[-1].write_text("\n".join(json.dumps(a) for a in answers), encoding="utf-8")
        imported = import_batch_results(ws, results, "openai", "gpt-x", {r.key for r in pending.requests()})
        assert (imported.imported, imported.errors, imported.unmatched) == (7, 0, 0)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_REAL_VLLM or not importlib.util.find_spec("torch"), reason="needs vLLM")
def test_gpu_smoke_real_vllm(tmp_path):
    """On a GPU machine with vLLM: bench/vllm_gpu_check.py's in-process part, as a test."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from vllm_gpu_check import in_process

    report = in_process(tmp_path)
    assert report["done"] == report["captions"] and report["failed"] == 0


@pytest.mark.skipif(HAS_REAL_VLLM, reason="vLLM is installed here")
def test_without_vllm_construction_is_a_clear_user_error(models):
    with pytest.raises(UserError, match=r"pip install 'tipr-bench\[vllm\]'"):
        backend_on(models["chat"])
