"""Load a CCLM-X2VLM checkpoint, or the authors' own Bi-IRRA one (e.g. their LUPerson-pretrained
release: the reference model's state-dict keys), into this model's module names.

Published names -> ours (``N`` a layer index, ``T`` = number of text layers, 12 in base):

======================================================  =============================================
checkpoint key                                          this model
======================================================  =============================================
vision_encoder.<rest>                                   vision.<rest> (BEiT-v2 names kept: patch_embed,
                                                        cls_token, mask_token, blocks.N.{norm1,attn.qkv,
                                                        attn.q_bias,attn.v_bias,attn.relative_position_
                                                        bias_table,attn.proj,norm2,mlp.fc1,mlp.fc2,
                                                        gamma_1,gamma_2}, fc_norm)
text_encoder.[roberta.|bert.]embeddings.<rest>          text.embeddings.<rest>
text_encoder.[roberta.|bert.]encoder.layer.N.<rest>     text.encoder.layer.N.<rest>         (N < T)
text_encoder.[roberta.|bert.]encoder.layer.N.<sub>      fusion.layer.(N-T).<sub'>           (N >= T,
                                                        Bi-IRRA's own 18-layer checkpoints)
cross_encoder.[roberta.|bert.]encoder.layer.N.<sub>     fusion.layer.N.<sub'>               (CCLM-X2VLM)
vision_proj.*, text_proj.*, itm_head.{0,1,3}.*, temp    same names
tl_text_proj.*                                          tl_text_proj.* (else copied from text_proj)
mim_head.*                                              mim_head.*
[text_encoder.]mlm_head.predictions.transform.dense.*   mlm_head.dense.*
[text_encoder.]mlm_head.predictions.transform.LayerNorm mlm_head.norm.*
[text_encoder.]mlm_head.predictions.bias                mlm_head.bias (decoder is tied to the word
                                                        embeddings, so its weight is not loaded)
======================================================  =============================================

Fusion sub-layers (<sub> -> <sub'>): attention.self.{query,key,value} -> self_attn.{query,key,value};
attention.output.dense -> self_attn.out; attention.output.LayerNorm -> self_norm;
crossattention.self.{query,key,value} -> cross_attn.{query,key,value}; crossattention.output.dense ->
cross_attn.out; crossattention.output.LayerNorm -> cross_norm; intermediate.dense -> ffn_in;
output.dense -> ffn_out; output.LayerNorm -> ffn_norm.

`relative_position_index` buffers and `position_ids` are rebuilt, not loaded, and the MLM decoder is
tied to the word embeddings (IGNORED). A BEiT-v2 style shared table,
`vision_encoder.rel_pos_bias.relative_position_bias_table`, is copied into every block's own table,
as the reference does for BEiT-v2 weights (models/beit2.py load_pretrained_beit2); CCLM-X2VLM and
Bi-IRRA checkpoints already hold one table per block. Tensors whose shape differs from the model's
(another resolution's relative position table, another vocabulary) are skipped and reported:
interpolating them is not done here.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from tipr_bench.core.errors import UserError

FUSION_SUBLAYERS = {
    "attention.self.query": "self_attn.query",
    "attention.self.key": "self_attn.key",
    "attention.self.value": "self_attn.value",
    "attention.output.dense": "self_attn.out",
    "attention.output.LayerNorm": "self_norm",
    "crossattention.self.query": "cross_attn.query",
    "crossattention.self.key": "cross_attn.key",
    "crossattention.self.value": "cross_attn.value",
    "crossattention.output.dense": "cross_attn.out",
    "crossattention.output.LayerNorm": "cross_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}
MLM_HEAD = {
    "predictions.transform.dense": "mlm_head.dense",
    "predictions.transform.LayerNorm": "mlm_head.norm",
}
SAME_NAME = ("vision_proj.", "text_proj.", "tl_text_proj.", "itm_head.", "mim_head.")
# checkpoint keys that need no counterpart: rebuilt buffers and the decoder tied to the word embeddings
IGNORED = ("relative_position_index", "embeddings.position_ids", "predictions.decoder.weight",
           "predictions.decoder.bias")
SHARED_TABLE = "vision.rel_pos_bias.relative_position_bias_table"
_LAYER = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")


def _fusion_key(index: int, rest: str) -> str | None:
    for old, new in FUSION_SUBLAYERS.items():
        if rest.startswith(old + "."):
            return f"fusion.layer.{index}.{new}{rest[len(old):]}"
    return None


def _strip_encoder_prefix(rest: str) -> str:
    for prefix in ("roberta.", "bert."):
        if rest.startswith(prefix):
            return rest[len(prefix):]
    return rest


def map_key(key: str, text_layers: int) -> str | None:
    """Our name for one checkpoint key, or None when it has no counterpart here."""
    if key.startswith("module."):
        key = key[len("module."):]
    if key.startswith("vision_encoder."):
        rest = key[len("vision_encoder."):]
        return None if rest.endswith("relative_position_index") else "vision." + rest
    if key == "temp" or key.startswith(SAME_NAME):
        return key
    mlm = key.removeprefix("text_encoder.").removeprefix("cls.")
    if mlm.startswith(("mlm_head.", "predictions.")):
        mlm = mlm.removeprefix("mlm_head.")
        if mlm == "predictions.bias":
            return "mlm_head.bias"
        for old, new in MLM_HEAD.items():
            if mlm.startswith(old + "."):
                return new + mlm[len(old):]
        return None
    for tower in ("text_encoder.", "cross_encoder."):
        if not key.startswith(tower):
            continue
        rest = _strip_encoder_prefix(key[len(tower):])
        if tower == "text_encoder." and rest.startswith("embeddings."):
            return None if rest.endswith("position_ids") else "text." + rest
        match = _LAYER.match(rest)
        if match is None:
            return None
        index, sub = int(match.group(1)), match.group(2)
        if tower == "cross_encoder.":
            return _fusion_key(index, sub)
        if index < text_layers:
            return f"text.encoder.layer.{index}.{sub}"
        return _fusion_key(index - text_layers, sub)
    return None


def map_state_dict(state: dict[str, torch.Tensor], text_layers: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(mapped state, checkpoint keys with no counterpart)."""
    mapped, unmapped = {}, []
    for key, value in state.items():
        new = map_key(key, text_layers)
        if new is None:
            unmapped.append(key)
        else:
            mapped[new] = value
    if "tl_text_proj.weight" not in mapped and "text_proj.weight" in mapped:
        mapped["tl_text_proj.weight"] = mapped["text_proj.weight"].clone()
        mapped["tl_text_proj.bias"] = mapped["text_proj.bias"].clone()
    return mapped, unmapped


@dataclass
class LoadReport:
    matched: list[str] = field(default_factory=list)  # model tensors filled from the checkpoint
    missing: list[str] = field(default_factory=list)  # model tensors the checkpoint did not provide
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys with no counterpart here
    shape_mismatch: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # rebuilt buffers, the tied decoder (IGNORED)
    shared_table: bool = False  # one relative position table, copied into every block's

    def summary(self) -> str:
        def names(keys: list[str]) -> str:
            return f" ({', '.join(keys[:4])}{f', +{len(keys) - 4} more' if len(keys) > 4 else ''})" if keys else ""

        return (f"matched {len(self.matched)} tensors; missing {len(self.missing)}{names(self.missing)} (left at "
                f"init); unexpected {len(self.unexpected)}{names(self.unexpected)}; "
                f"{len(self.shape_mismatch)} skipped for shape{names(self.shape_mismatch)}"
                + ("; the shared relative position table copied into every block" if self.shared_table else ""))


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: a bare state dict or one under "model", "state_dict" or
    "module". Read with weights_only, so a file that also pickles other objects is refused with the
    way to extract its weights."""
    if not Path(path).is_file():
        raise UserError(f"--init {path} does not exist; pass a CCLM-X2VLM or Bi-IRRA checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(
            f"--init {path} also holds pickled objects that are not tensors (the authors' main.py saves its "
            "config beside the weights), and reading those could run code; if you trust the file, extract its "
            f"weights once: python -c \"import torch; c = torch.load('{path}', weights_only=False); "
            f"torch.save(c.get('state_dict', c.get('model', c)), '{path}.weights.pt')\" and pass that file"
        ) from None
    except Exception as err:
        raise UserError(f"--init {path}: cannot read it as a torch checkpoint ({err})") from None
    for wrapper in ("model", "state_dict", "module"):
        if isinstance(payload, dict) and isinstance(payload.get(wrapper), dict):
            payload = payload[wrapper]
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise UserError(f"--init {path}: no state dict of tensors inside; pass a CCLM-X2VLM or Bi-IRRA checkpoint")
    return payload


def load_into(model: nn.Module, state: dict[str, torch.Tensor], text_layers: int) -> LoadReport:
    mapped, unmapped = map_state_dict(state, text_layers)
    own = model.state_dict()
    report = LoadReport(ignored=[k for k in unmapped if k.endswith(IGNORED)])
    report.unexpected = [k for k in unmapped if not k.endswith(IGNORED)]
    shared = mapped.pop(SHARED_TABLE, None)
    if shared is not None:
        report.shared_table = True
        for key in own:
            if key.startswith("vision.blocks.") and key.endswith(".attn.relative_position_bias_table"):
                mapped.setdefault(key, shared.clone())
    usable = {}
    for key, value in mapped.items():
        if key not in own:
            report.unexpected.append(key)
        elif own[key].shape != value.shape:
            report.shape_mismatch.append(f"{key}: {tuple(value.shape)} vs {tuple(own[key].shape)}")
        else:
            usable[key] = value
    model.load_state_dict(usable, strict=False)
    report.matched = sorted(usable)
    tied = {"mlm_head.decoder.weight"}
    report.missing = sorted(k for k in own if k not in usable and k not in tied)
    return report


def position_convention(init_state: dict[str, torch.Tensor] | None, text_layers: int, xlmr: bool) -> str:
    """Which position-table rows the text weights were trained to read: "zero" (0, 1, 2, ...) when a
    CCLM/X2-VLM (or Bi-IRRA) checkpoint provides the position table, as the reference's xbert numbers
    them; "xlmr" (from pad_id + 1) when the table comes from a Hugging Face XLM-R folder alone; "zero"
    for random init, as the reference's model."""
    if init_state is not None and "text.embeddings.position_embeddings.weight" in map_state_dict(
            init_state, text_layers)[0]:
        return "zero"
    return "xlmr" if xlmr else "zero"
