"""Text tower of Bi-IRRA: an XLM-R encoder (transformers layout) followed by fusion layers.

The fusion layers are post-LayerNorm BERT blocks with an extra cross-attention sub-layer. They are
run in two directions, as in the published model: text tokens attending to image tokens (ITM, MLM
and re-ranking), and image tokens attending to text tokens (the D-MIM teacher and student).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import XLMRobertaConfig, XLMRobertaModel

from tipr_bench.baselines.bi_irra.attention import attend
from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.core.errors import UserError


def xlmr_config(config: BiIrraConfig, pad_id: int = 1) -> XLMRobertaConfig:
    return XLMRobertaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.text_width,
        num_hidden_layers=config.text_layers,
        num_attention_heads=config.text_heads,
        intermediate_size=config.text_ffn,
        max_position_embeddings=config.max_positions,
        pad_token_id=pad_id,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        layer_norm_eps=config.text_ln_eps,
    )


def _free_position_rows(model: XLMRobertaModel, reinit: bool) -> None:
    """Hugging Face builds XLM-R's position table with padding_idx = pad_id (1), so row 1 never learns
    (and starts at zero). The reference's table (models/xbert.py BertEmbeddings) has no padding row,
    and with positions from 0 row 1 is the first word token's: make it an ordinary row, with the
    table's init when the weights are random."""
    table = model.embeddings.position_embeddings
    if reinit and table.padding_idx is not None:
        with torch.no_grad():
            table.weight[table.padding_idx].normal_(0.0, model.config.initializer_range)
    table.padding_idx = None


def build_text_encoder(config: BiIrraConfig, xlmr_folder: Path | None = None) -> XLMRobertaModel:
    """Random init from the config, or the weights of a local Hugging Face XLM-R folder (its LayerNorm
    epsilon set to the config's, so the model rebuilt from a checkpoint computes the same)."""
    if xlmr_folder is None:
        model = XLMRobertaModel(xlmr_config(config), add_pooling_layer=False)
        _free_position_rows(model, reinit=True)
        return model
    if not (xlmr_folder / "config.json").is_file():
        raise UserError(f"--xlmr {xlmr_folder}: no config.json; point it at a local XLM-R Hugging Face folder")
    model = XLMRobertaModel.from_pretrained(str(xlmr_folder), add_pooling_layer=False, local_files_only=True,
                                            layer_norm_eps=config.text_ln_eps)
    _free_position_rows(model, reinit=False)
    got = (model.config.hidden_size, model.config.num_hidden_layers, model.config.vocab_size)
    want = (config.text_width, config.text_layers, config.vocab_size)
    if got != want:
        raise UserError(
            f"--xlmr {xlmr_folder}: (width, layers, vocab) {got} != config's {want}; use --config base "
            "with xlm-roberta-base"
        )
    return model


class MultiHeadAttention(nn.Module):
    def __init__(self, width: int, heads: int, attn_dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.attn_dropout = attn_dropout  # on the attention probabilities, while training
        self.plain = False  # plain matrix products instead of SDPA's kernels (BiIRRA.place sets it on CPU)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape
        q = self.query(x).view(b, n, self.heads, -1).transpose(1, 2)
        k = self.key(memory).view(b, memory.shape[1], self.heads, -1).transpose(1, 2)
        v = self.value(memory).view(b, memory.shape[1], self.heads, -1).transpose(1, 2)
        bias = None
        if memory_mask is not None:
            bias = torch.zeros(memory_mask.shape, dtype=q.dtype, device=q.device)
            bias = bias.masked_fill(memory_mask == 0, torch.finfo(q.dtype).min)[:, None, None, :]
        out = attend(q, k, v, bias, self.attn_dropout if self.training else 0.0, self.plain)
        return self.out(out.transpose(1, 2).reshape(b, n, c))


class FusionLayer(nn.Module):
    """Self-attention, cross-attention to the other modality, feed-forward; each post-LayerNorm."""

    def __init__(self, width: int, heads: int, ffn: int, dropout: float = 0.1, attn_dropout: float = 0.0):
        super().__init__()
        self.self_attn = MultiHeadAttention(width, heads, attn_dropout)
        self.self_norm = nn.LayerNorm(width, eps=1e-5)
        self.cross_attn = MultiHeadAttention(width, heads, attn_dropout)
        self.cross_norm = nn.LayerNorm(width, eps=1e-5)
        self.ffn_in = nn.Linear(width, ffn)
        self.ffn_out = nn.Linear(ffn, width)
        self.ffn_norm = nn.LayerNorm(width, eps=1e-5)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.self_norm(x + self.dropout(self.self_attn(x, x, mask)))
        x = self.cross_norm(x + self.dropout(self.cross_attn(x, memory, memory_mask)))
        return self.ffn_norm(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))


class FusionEncoder(nn.Module):
    def __init__(self, config: BiIrraConfig):
        super().__init__()
        self.layer = nn.ModuleList(
            FusionLayer(config.text_width, config.text_heads, config.text_ffn, config.dropout, config.attn_dropout)
            for _ in range(config.fusion_layers)
        )
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, mask, memory, memory_mask)
        return x
