"""BEiT-v2-style vision transformer: the image tower of Bi-IRRA.

The parameter names follow BEiT's (patch_embed.proj, blocks.N.attn.qkv, q_bias/v_bias,
per-block relative position bias tables, layer-scale gamma_1/gamma_2, fc_norm) so a CCLM-X2VLM
checkpoint maps onto it by prefix. As in BEiT with mean pooling, the first output token is the mean
of the patch tokens, not a learned CLS state; it feeds the ITC projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tipr_bench.baselines.bi_irra.attention import attend


def relative_position_index(grid: tuple[int, int]) -> torch.Tensor:
    """Index into a (2H-1)(2W-1)+3 bias table for every token pair; the last three entries serve
    cls->token, token->cls and cls->cls, as in BEiT."""
    gh, gw = grid
    coords = torch.stack(torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel[:, :, 0] += gh - 1
    rel[:, :, 1] += gw - 1
    rel[:, :, 0] *= 2 * gw - 1
    num_distances = (2 * gh - 1) * (2 * gw - 1) + 3
    index = torch.zeros((gh * gw + 1,) * 2, dtype=torch.long)
    index[1:, 1:] = rel.sum(-1)
    index[0, :] = num_distances - 3
    index[:, 0] = num_distances - 2
    index[0, 0] = num_distances - 1
    return index


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, width: int):
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with BEiT's q/v-only bias and a learned relative position bias."""

    def __init__(self, width: int, heads: int, grid: tuple[int, int]):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, width * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(width))
        self.v_bias = nn.Parameter(torch.zeros(width))
        num_distances = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_distances, heads))
        self.register_buffer("relative_position_index", relative_position_index(grid), persistent=False)
        self.proj = nn.Linear(width, width)
        self.plain = False  # plain matrix products instead of SDPA's kernels (BiIRRA.place sets it on CPU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        q, k, v = F.linear(x, self.qkv.weight, bias).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        rel = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        rel = rel.view(n, n, -1).permute(2, 0, 1).unsqueeze(0).to(q.dtype)
        out = attend(q, k, v, rel, plain=self.plain)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, grid: tuple[int, int], layer_scale: float, drop_path: float,
                 mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = Attention(width, heads, grid)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio))
        self.gamma_1 = nn.Parameter(torch.full((width,), layer_scale))
        self.gamma_2 = nn.Parameter(torch.full((width,), layer_scale))
        self.drop_path = drop_path

    def _residual(self, x: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop_path > 0:
            keep = torch.rand(x.shape[0], 1, 1, device=x.device) >= self.drop_path
            branch = branch * keep / (1 - self.drop_path)
        return x + branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._residual(x, self.gamma_1 * self.attn(self.norm1(x)))
        return self._residual(x, self.gamma_2 * self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """Image -> [pooled token, patch tokens] of shape [B, 1 + H*W/p^2, width]."""

    def __init__(
        self, image_size: tuple[int, int], patch_size: int, width: int, layers: int, heads: int,
        layer_scale: float = 0.1, drop_path: float = 0.0, mlp_ratio: float = 4.0, abs_pos: bool = False,
    ):
        super().__init__()
        self.grid = (image_size[0] // patch_size, image_size[1] // patch_size)
        self.patch_embed = PatchEmbed(patch_size, width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        # Optional absolute position embedding (BEiT's use_abs_pos_emb): from random init, mean pooling
        # over tokens that only see relative positions cannot tell a red top from red trousers.
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.num_patches, width)) if abs_pos else None
        rates = torch.linspace(0, drop_path, layers).tolist() if layers > 1 else [drop_path]
        self.blocks = nn.ModuleList(
            Block(width, heads, self.grid, layer_scale, rate, mlp_ratio) for rate in rates
        )
        self.fc_norm = nn.LayerNorm(width, eps=1e-6)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for depth, block in enumerate(self.blocks, start=1):
            # BEiT rescales the residual projections by depth so deep stacks start stable.
            block.attn.proj.weight.data.div_((2.0 * depth) ** 0.5)
            block.mlp.fc2.weight.data.div_((2.0 * depth) ** 0.5)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def forward(self, images: torch.Tensor, patch_mask: torch.Tensor | None = None) -> torch.Tensor:
        """patch_mask: bool [B, num_patches], True where the patch is replaced by the mask token."""
        x = self.patch_embed(images)
        if x.shape[1] != self.num_patches:
            raise ValueError(f"image gives {x.shape[1]} patches, model expects {self.num_patches}")
        if patch_mask is not None:
            w = patch_mask.unsqueeze(-1).to(x.dtype)
            x = x * (1 - w) + self.mask_token.to(x.dtype) * w
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        if self.pos_embed is not None:
            x = x + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        patches = self.fc_norm(x[:, 1:])
        return torch.cat([patches.mean(dim=1, keepdim=True), patches], dim=1)
