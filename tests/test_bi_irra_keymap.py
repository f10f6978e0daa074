"""The CCLM-X2VLM -> Bi-IRRA key mapping, on a synthetic state dict with the published names."""

import sys
import types

import pytest
import torch

from tests.support.bi_irra_micro import MICRO
from tipr_bench.baselines.bi_irra.keymap import FUSION_SUBLAYERS, load_into, map_key, read_state_dict
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.core.errors import UserError

BERT_SUFFIX = {new: old for old, new in FUSION_SUBLAYERS.items()}


def _published_state(model: BiIRRA, text_prefix: str = "text_encoder.roberta.") -> dict[str, torch.Tensor]:
    """Our model's tensors renamed to CCLM-X2VLM's names, each filled with a distinct value."""
    state = {}
    for i, (name, tensor) in enumerate(model.state_dict().items()):
        value = torch.full_like(tensor, float(i + 1)) if tensor.is_floating_point() else tensor
        if name.startswith("vision."):
            key = "vision_encoder." + name[len("vision."):]
        elif name.startswith("text."):
            key = text_prefix + name[len("text."):]
        elif name.startswith("fusion.layer."):
            _, _, index, rest = name.split(".", 3)
            sub, _, leaf = rest.rpartition(".")
            key = f"cross_encoder.bert.encoder.layer.{index}.{BERT_SUFFIX[sub]}.{leaf}"
        elif name.startswith("mlm_head."):
            key = {"mlm_head.dense.weight": "mlm_head.predictions.transform.dense.weight",
                   "mlm_head.dense.bias": "mlm_head.predictions.transform.dense.bias",
                   "mlm_head.norm.weight": "mlm_head.predictions.transform.LayerNorm.weight",
                   "mlm_head.norm.bias": "mlm_head.predictions.transform.LayerNorm.bias",
                   "mlm_head.bias": "mlm_head.predictions.bias"}[name]
        elif name.startswith(("tl_text_proj.", "mim_head.")):
            continue  # CCLM-X2VLM has neither: fine-tuning adds them
        else:
            key = name
        state[key] = value
    state["vision_encoder.blocks.0.attn.relative_position_index"] = torch.zeros(3, dtype=torch.long)
    state["text_encoder.roberta.embeddings.position_ids"] = torch.arange(5)
    state["mlm_head.predictions.decoder.weight"] = torch.zeros(3)
    return state


def test_every_published_tensor_lands_on_its_module():
    model = BiIRRA(MICRO)
    state = _published_state(model)
    report = load_into(model, state, MICRO.text_layers)
    ours = model.state_dict()
    assert report.shape_mismatch == []
    assert torch.equal(ours["vision.blocks.1.attn.q_bias"], state["vision_encoder.blocks.1.attn.q_bias"])
    assert torch.equal(ours["text.encoder.layer.1.attention.self.query.weight"],
                       state["text_encoder.roberta.encoder.layer.1.attention.self.query.weight"])
    assert torch.equal(ours["fusion.layer.1.cross_attn.key.weight"],
                       state["cross_encoder.bert.encoder.layer.1.crossattention.self.key.weight"])
    assert torch.equal(ours["fusion.layer.0.ffn_norm.bias"],
                       state["cross_encoder.bert.encoder.layer.0.output.LayerNorm.bias"])
    assert torch.equal(ours["mlm_head.norm.weight"], state["mlm_head.predictions.transform.LayerNorm.weight"])
    assert torch.equal(ours["tl_text_proj.weight"], state["text_proj.weight"])  # copied, as published
    assert ours["temp"].item() == state["temp"].item()
    assert report.missing == sorted(k for k in ours if k.startswith("mim_head."))
    assert "vision_encoder.blocks.0.attn.relative_position_index" in report.ignored
    assert "mlm_head.predictions.decoder.weight" in report.ignored and report.unexpected == []


def test_bi_irra_eighteen_layer_names_put_the_top_layers_into_fusion():
    assert map_key("text_encoder.bert.encoder.layer.1.attention.self.query.weight", 2) == \
        "text.encoder.layer.1.attention.self.query.weight"
    assert map_key("text_encoder.bert.encoder.layer.3.crossattention.output.dense.bias", 2) == \
        "fusion.layer.1.cross_attn.out.bias"
    assert map_key("module.text_encoder.encoder.layer.2.intermediate.dense.weight", 2) == \
        "fusion.layer.0.ffn_in.weight"
    assert map_key("itm_head.3.weight", 12) == "itm_head.3.weight"
    assert map_key("bbox_head.0.weight", 12) is None


def test_shape_mismatches_are_skipped_and_reported(tmp_path):
    model = BiIRRA(MICRO)
    state = {"vision_encoder.blocks.0.attn.relative_position_bias_table": torch.zeros(5, 2),
             "vision_proj.weight": torch.ones(MICRO.embed_dim, MICRO.vision_width)}
    path = tmp_path / "cclm.th"
    torch.save({"model": state}, path)
    report = load_into(model, read_state_dict(path), MICRO.text_layers)
    assert report.matched == ["vision_proj.weight"]
    assert len(report.shape_mismatch) == 1 and "relative_position_bias_table" in report.shape_mismatch[0]
    assert torch.equal(model.vision_proj.weight, torch.ones(MICRO.embed_dim, MICRO.vision_width))


def _authors_bi_irra_state(model: BiIRRA) -> dict[str, torch.Tensor]:
    """The reference model's own state-dict keys (models/model_retrieval.py Bi_IRRA with MLM on: an
    18-layer xbert BertForMaskedLM as text_encoder, its top layers the fusion), at micro size, each
    tensor a distinct value."""
    t = MICRO.text_layers
    state = {}
    for i, (name, tensor) in enumerate(model.state_dict().items()):
        value = torch.full_like(tensor, float(i + 1)) if tensor.is_floating_point() else tensor
        if name.startswith("vision."):
            key = "vision_encoder." + name[len("vision."):]
        elif name.startswith("text."):
            key = "text_encoder.bert." + name[len("text."):]
        elif name.startswith("fusion.layer."):
            _, _, index, rest = name.split(".", 3)
            sub, _, leaf = rest.rpartition(".")
            key = f"text_encoder.bert.encoder.layer.{int(index) + t}.{BERT_SUFFIX[sub]}.{leaf}"
        elif name.startswith("mlm_head."):
            key = {"mlm_head.dense.weight": "text_encoder.mlm_head.predictions.transform.dense.weight",
                   "mlm_head.dense.bias": "text_encoder.mlm_head.predictions.transform.dense.bias",
                   "mlm_head.norm.weight": "text_encoder.mlm_head.predictions.transform.LayerNorm.weight",
                   "mlm_head.norm.bias": "text_encoder.mlm_head.predictions.transform.LayerNorm.bias",
                   "mlm_head.bias": "text_encoder.mlm_head.predictions.bias"}[name]
        else:
            key = name  # vision_proj, text_proj, tl_text_proj, temp, itm_head, mim_head
        state[key] = value
    for b in range(MICRO.vision_layers):  # persistent buffers in the reference's modules
        state[f"vision_encoder.blocks.{b}.attn.relative_position_index"] = torch.zeros(3, dtype=torch.long)
    state["text_encoder.bert.embeddings.position_ids"] = torch.arange(MICRO.max_positions)[None]
    words = state["text_encoder.bert.embeddings.word_embeddings.weight"]
    state["text_encoder.mlm_head.predictions.decoder.weight"] = words
    state["text_encoder.mlm_head.predictions.decoder.bias"] = state["text_encoder.mlm_head.predictions.bias"]
    return state


def test_the_authors_bi_irra_checkpoint_layout_loads_completely(tmp_path):
    source = BiIRRA(MICRO)
    state = _authors_bi_irra_state(source)
    path = tmp_path / "luperson.pth"
    torch.save({"state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    model = BiIRRA(MICRO)
    report = load_into(model, read_state_dict(path), MICRO.text_layers)
    assert report.missing == [] and report.unexpected == [] and report.shape_mismatch == []
    assert report.matched == sorted(model.state_dict())  # every tensor; the tied decoder is the word embeddings
    assert len(report.ignored) == MICRO.vision_layers + 3
    ours = model.state_dict()
    t = MICRO.text_layers
    assert torch.equal(ours["fusion.layer.1.cross_attn.value.weight"],
                       state[f"text_encoder.bert.encoder.layer.{t + 1}.crossattention.self.value.weight"])
    assert torch.equal(ours["text.encoder.layer.0.output.LayerNorm.bias"],
                       state["text_encoder.bert.encoder.layer.0.output.LayerNorm.bias"])
    for name in ("tl_text_proj.weight", "mim_head.3.bias", "itm_head.0.weight", "temp"):
        assert torch.equal(ours[name], state[name]), name  # the fine-tuned heads, not copies
    assert "matched" in report.summary() and "missing 0" in report.summary()


def test_a_checkpoint_that_pickles_its_config_is_refused_with_the_way_out(tmp_path, monkeypatch):
    easydict = types.ModuleType("easydict")  # the authors' main.py saves its EasyDict config beside the weights

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "easydict", "EasyDict"
    easydict.EasyDict = EasyDict
    monkeypatch.setitem(sys.modules, "easydict", easydict)
    path = tmp_path / "checkpoint_best_ch.pth"
    torch.save({"state_dict": {"temp": torch.tensor(0.07)}, "config": EasyDict(lr=5e-5)}, path)
    with pytest.raises(UserError, match="weights_only=False.*state_dict"):
        read_state_dict(path)


def test_a_shared_relative_position_table_fills_every_block():
    model = BiIRRA(MICRO)
    table = torch.randn_like(model.vision.blocks[0].attn.relative_position_bias_table)
    report = load_into(model, {"vision_encoder.rel_pos_bias.relative_position_bias_table": table}, MICRO.text_layers)
    assert report.shared_table and report.unexpected == []
    for block in model.vision.blocks:
        assert torch.equal(block.attn.relative_position_bias_table, table)
