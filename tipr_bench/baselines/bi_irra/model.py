"""The Bi-IRRA model: towers, heads and the bilingual training forward pass.

Heads: ITC projections (one for images, one for English text, one for the target language, the
last initialised from the English one as in the public code), a learnable temperature, the ITM
head, the MLM head (tied to the word embeddings) and the D-MIM reconstruction head.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from tipr_bench.baselines.bi_irra import losses
from tipr_bench.baselines.bi_irra.config import BiIrraConfig
from tipr_bench.baselines.bi_irra.text_tower import FusionEncoder, MultiHeadAttention, build_text_encoder
from tipr_bench.baselines.bi_irra.vision_tower import Attention, VisionTransformer


@dataclass
class TrainBatch:
    """One collated batch: an image, its English caption and the target-language caption of the
    same key, with the MLM-masked copies of both captions and a blockwise patch mask."""

    images: torch.Tensor  # [B, 3, H, W]
    patch_mask: torch.Tensor  # [B, N] bool
    pids: torch.Tensor  # [B]
    en_ids: torch.Tensor
    en_att: torch.Tensor
    tg_ids: torch.Tensor
    tg_att: torch.Tensor
    en_mlm_ids: torch.Tensor
    en_mlm_pos: torch.Tensor
    en_mlm_labels: torch.Tensor
    tg_mlm_ids: torch.Tensor
    tg_mlm_pos: torch.Tensor
    tg_mlm_labels: torch.Tensor

    def to(self, device: torch.device | str) -> TrainBatch:
        return TrainBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})

    def __len__(self) -> int:
        return self.images.shape[0]


def mlp(width: int, out: int) -> nn.Sequential:
    """Linear -> LayerNorm -> GELU -> Linear (the X-VLM head shape; index names match its checkpoints)."""
    return nn.Sequential(nn.Linear(width, width * 2), nn.LayerNorm(width * 2), nn.GELU(), nn.Linear(width * 2, out))


class MlmHead(nn.Module):
    def __init__(self, width: int, vocab_size: int):
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width, eps=1e-5)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.dense(hidden))) @ word_embeddings.t() + self.bias


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient before taking this rank's slice.

    Every rank computes the same ITC loss over the gathered batch, and DDP averages gradients over
    ranks; summing here makes the average equal the gradient of one process holding the whole global
    batch. The reference (models/xvlm.py AllGather) returns only this rank's own slice, which scales
    the ITC gradient by 1/world under DDP's average; `BiIRRA.contrastive` applies that scale on its
    own (itc_balance "reference"), so it holds for virtual ranks too (docs/FIDELITY.md)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rank, ctx.size = dist.get_rank(), tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.size:(ctx.rank + 1) * ctx.size]


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times `factor` backward."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.factor, None


def gather_across_ranks(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        if not tensor.requires_grad:  # person ids
            parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, tensor.contiguous())
            return torch.cat(parts)
        return _GatherWithGrad.apply(tensor)
    return tensor


class BiIRRA(nn.Module):
    def __init__(self, config: BiIrraConfig, xlmr_folder: Path | None = None):
        super().__init__()
        self.config = config
        self.vision = VisionTransformer(
            config.image_size, config.patch_size, config.vision_width, config.vision_layers, config.vision_heads,
            layer_scale=config.layer_scale_init, drop_path=config.drop_path,
            mlp_ratio=config.vision_mlp_ratio, abs_pos=config.vision_abs_pos,
        )
        self.text = build_text_encoder(config, xlmr_folder)
        self.fusion = FusionEncoder(config)
        self.vision_proj = nn.Linear(config.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(config.text_width, config.embed_dim)
        self.tl_text_proj = nn.Linear(config.text_width, config.embed_dim)
        self.tl_text_proj.load_state_dict(self.text_proj.state_dict())
        self.temp = nn.Parameter(torch.tensor(config.temperature))
        self.itm_head = mlp(config.text_width, 2)
        self.mim_head = mlp(config.text_width, config.text_width)
        self.mlm_head = MlmHead(config.text_width, config.vocab_size)

    def place(self, device: torch.device) -> BiIRRA:
        """Move to `device` with the attention kernels that are fastest there. On CPU at the tiny
        config's sizes (head dim 24, 48-64 tokens) SDPA's flash kernel is slower than plain products:
        a training step takes about 10% less time without it (same losses to float rounding)."""
        plain = device.type == "cpu"
        self.text.set_attn_implementation("eager" if plain else "sdpa")
        for module in self.modules():
            if isinstance(module, (MultiHeadAttention, Attention)):
                module.plain = plain
        return self.to(device)

    # -- towers --------------------------------------------------------------------------------

    def encode_image(self, images: torch.Tensor, patch_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.vision(images, patch_mask)

    def encode_text(self, ids: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        """Hugging Face numbers XLM-R positions from pad_id + 1; the reference's xbert (and so every
        CCLM/X2-VLM checkpoint) from 0. config.position_ids says which table rows the weights expect."""
        positions = None
        if self.config.position_ids == "zero":
            positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        return self.text(input_ids=ids, attention_mask=att, position_ids=positions).last_hidden_state

    def image_features(self, image_tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.vision_proj(image_tokens[:, 0]).float(), dim=-1)

    def text_features(self, text_tokens: torch.Tensor, target_lang: bool) -> torch.Tensor:
        proj = self.tl_text_proj if target_lang else self.text_proj
        return F.normalize(proj(text_tokens[:, 0]).float(), dim=-1)

    def fuse_text(self, text_tokens: torch.Tensor, text_att: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        """Text tokens attend to the image (ITM, MLM, re-ranking)."""
        return self.fusion(text_tokens, text_att, image_tokens, None)

    def fuse_image(self, image_tokens: torch.Tensor, text_tokens: torch.Tensor, text_att: torch.Tensor) -> torch.Tensor:
        """Image tokens attend to the text (the D-MIM teacher and student)."""
        return self.fusion(image_tokens, None, text_tokens, text_att)

    def itm_logits(self, text_tokens: torch.Tensor, text_att: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        return self.itm_head(self.fuse_text(text_tokens, text_att, image_tokens)[:, 0])

    # -- losses --------------------------------------------------------------------------------

    def rank_groups(self, n: int, device: torch.device) -> torch.Tensor:
        """The reference GPU (real or virtual) each of this process's n samples belongs to: groups of
        config.rank_batch in batch order, or the whole share with rank_batch 0."""
        return torch.arange(n, device=device) // (self.config.rank_batch or n)

    def contrastive(self, image_feat, en_feat, tg_feat, pids, groups) -> torch.Tensor:
        """ITC over the features of every process, mean of the two languages. With itc_balance
        "reference", the gradient through the features is divided by the number of reference ranks
        (global batch / rank_batch): the reference's all-gather hands each GPU back only its own
        slice, and DDP then averages over GPUs. The temperature's gradient is not scaled (each
        reference GPU computes it in full)."""
        feats = [image_feat, en_feat, tg_feat]
        if self.config.itc_balance == "reference":
            n = image_feat.shape[0]
            local_ranks = -(-n // (self.config.rank_batch or n))
            world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
            feats = [_ScaleGrad.apply(f, 1.0 / (local_ranks * world)) for f in feats]
        image, en, tg = (gather_across_ranks(f) for f in feats)
        all_pids = gather_across_ranks(pids)
        return (losses.itc_loss(image, en, self.temp, all_pids) + losses.itc_loss(image, tg, self.temp, all_pids)) / 2

    def _matching(self, image_tokens, image_feat, text_tokens, text_att, text_feat, pids, groups) -> torch.Tensor:
        neg_image, neg_text = losses.sample_hard_negatives(image_feat, text_feat, self.temp, pids, groups=groups)
        texts = torch.cat([text_tokens, text_tokens, text_tokens[neg_text]])
        atts = torch.cat([text_att, text_att, text_att[neg_text]])
        images = torch.cat([image_tokens, image_tokens[neg_image], image_tokens])
        logits = self.itm_logits(texts, atts, images)
        b = text_tokens.shape[0]
        return losses.itm_loss(logits[:b], logits[b:], groups)

    def _mlm(self, masked_ids, att, positions, labels, image_tokens, groups) -> torch.Tensor:
        fused = self.fuse_text(self.encode_text(masked_ids, att), att, image_tokens)
        picked = torch.gather(fused, 1, positions.unsqueeze(-1).expand(-1, -1, fused.shape[-1]))
        logits = self.mlm_head(picked, self.text.embeddings.word_embeddings.weight)
        return losses.mlm_loss(logits, labels, groups)

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        if self.config.temperature_clamp:
            with torch.no_grad():
                self.temp.clamp_(0.001, 0.5)
        image_tokens = self.encode_image(batch.images)
        image_feat = self.image_features(image_tokens)
        en_tokens = self.encode_text(batch.en_ids, batch.en_att)
        tg_tokens = self.encode_text(batch.tg_ids, batch.tg_att)
        en_feat = self.text_features(en_tokens, target_lang=False)
        tg_feat = self.text_features(tg_tokens, target_lang=True)

        groups = self.rank_groups(len(batch), batch.pids.device)
        itc = self.contrastive(image_feat, en_feat, tg_feat, batch.pids, groups)

        # Asymmetric ITM: the target-language branch sees the masked image.
        masked_tokens = self.encode_image(batch.images, batch.patch_mask)
        masked_feat = self.image_features(masked_tokens)
        itm = (
            self._matching(image_tokens, image_feat, en_tokens, batch.en_att, en_feat, batch.pids, groups)
            + self._matching(masked_tokens, masked_feat, tg_tokens, batch.tg_att, tg_feat, batch.pids, groups)
        ) / 2

        # Cross-lingual D-MIM: full image + English is the teacher for masked image + target text.
        with torch.no_grad():
            teacher = self.fuse_image(image_tokens, en_tokens, batch.en_att)
        student = self.mim_head(self.fuse_image(masked_tokens, tg_tokens, batch.tg_att))
        mim = losses.d_mim_loss(teacher, student, groups=groups)

        mlm = self._mlm(batch.en_mlm_ids, batch.en_att, batch.en_mlm_pos, batch.en_mlm_labels, image_tokens, groups) \
            + self._mlm(batch.tg_mlm_ids, batch.tg_att, batch.tg_mlm_pos, batch.tg_mlm_labels, image_tokens, groups)

        parts = {"itc": itc, "itm": itm, "mlm": mlm, "mim": mim}
        parts["loss"] = losses.total_loss(parts, self.config.itm_weight, self.config.mim_weight)
        return parts
