"""The vllm backend without vLLM or a GPU: the clear error, how decoding parameters map, and that its model
id is the one the cache planner (`backend_identity`) computes. The engine path itself needs a GPU."""

from __future__ import annotations

import importlib.util

import pytest

from tests.support.translate_local_models import save_causal
from tipr_bench.benchmark.errors import UserError
from tipr_bench.translate.backends import backend_identity
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.vllm_backend import VllmBackend, sampling_kwargs, vllm_model_id

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_construction_is_a_clear_user_error(tmp_path):
    with pytest.raises(UserError, match=r"pip install 'tipr-bench\[vllm\]'"):
        VllmBackend(str(tmp_path))


def test_decoding_params_map_to_sampling_params():
    greedy = sampling_kwargs(DecodingParams(temperature=0.0, top_p=0.5, max_tokens=64, seed=0, stop=("\n",)))
    assert greedy == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 0, "stop": ["\n"]}
    sampled = sampling_kwargs(DecodingParams(temperature=0.7, top_p=0.9, max_tokens=8, seed=None))
    assert sampled == {"n": 1, "temperature": 0.7, "top_p": 0.9, "max_tokens": 8, "seed": None, "stop": None}


def test_model_id_matches_the_cache_planner(tmp_path):
    folder = save_causal(tmp_path / "tiny-llm")
    assert vllm_model_id(str(folder)) == backend_identity("vllm", str(folder))[1]
    assert vllm_model_id(str(folder)).startswith("tiny-llm@")
    assert vllm_model_id("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
