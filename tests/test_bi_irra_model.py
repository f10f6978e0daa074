"""Shapes through the Bi-IRRA towers, heads and the training forward pass (micro widths)."""

import random

import pytest
import torch

from tests.support.bi_irra_micro import MICRO
from tipr_bench.baselines.bi_irra.config import BASE, TINY, BiIrraConfig
from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens
from tipr_bench.baselines.bi_irra.model import BiIRRA, TrainBatch
from tipr_bench.baselines.bi_irra.vision_tower import relative_position_index
from tipr_bench.core.errors import UserError


def _batch(cfg: BiIrraConfig, b: int = 4, length: int = 9) -> TrainBatch:
    rng = random.Random(0)
    ids = torch.randint(5, cfg.vocab_size, (b, length))
    ids[:, 0], ids[:, -1] = 0, 2
    att = torch.ones(b, length, dtype=torch.long)
    masked = [mask_tokens(row.tolist(), special_ids={0, 1, 2, 4}, mask_id=4, vocab_size=cfg.vocab_size, rng=rng,
                          max_masks=cfg.mlm_max_masks) for row in ids]
    return TrainBatch(
        images=torch.randn(b, 3, *cfg.image_size),
        patch_mask=torch.stack([blockwise_mask(cfg.grid, 0.5, rng) for _ in range(b)]),
        pids=torch.tensor([0, 0, 1, 2])[:b], en_ids=ids, en_att=att, tg_ids=ids.flip(1), tg_att=att,
        en_mlm_ids=torch.stack([m.ids for m in masked]), en_mlm_pos=torch.stack([m.positions for m in masked]),
        en_mlm_labels=torch.stack([m.labels for m in masked]), tg_mlm_ids=torch.stack([m.ids for m in masked]),
        tg_mlm_pos=torch.stack([m.positions for m in masked]), tg_mlm_labels=torch.stack([m.labels for m in masked]),
    )


def test_towers_and_heads_have_the_expected_shapes():
    torch.manual_seed(0)
    model = BiIRRA(MICRO).eval()
    n_patches = MICRO.grid[0] * MICRO.grid[1]
    images = torch.randn(3, 3, *MICRO.image_size)
    image_tokens = model.encode_image(images)
    assert image_tokens.shape == (3, 1 + n_patches, MICRO.vision_width)
    ids = torch.randint(5, MICRO.vocab_size, (3, 7))
    att = torch.ones_like(ids)
    text_tokens = model.encode_text(ids, att)
    assert text_tokens.shape == (3, 7, MICRO.text_width)
    feats = model.image_features(image_tokens)
    assert feats.shape == (3, MICRO.embed_dim) and torch.allclose(feats.norm(dim=-1), torch.ones(3))
    assert model.text_features(text_tokens, target_lang=True).shape == (3, MICRO.embed_dim)
    assert model.itm_logits(text_tokens, att, image_tokens).shape == (3, 2)
    assert model.fuse_image(image_tokens, text_tokens, att).shape == image_tokens.shape


def test_masked_patches_change_the_image_tokens():
    torch.manual_seed(0)
    model = BiIRRA(MICRO).eval()
    images = torch.randn(2, 3, *MICRO.image_size)
    mask = torch.zeros(2, MICRO.grid[0] * MICRO.grid[1], dtype=torch.bool)
    assert torch.allclose(model.encode_image(images, mask), model.encode_image(images))
    mask[:, :2] = True
    assert not torch.allclose(model.encode_image(images, mask), model.encode_image(images))


def test_training_forward_gives_four_finite_losses_and_gradients():
    torch.manual_seed(0)
    model = BiIRRA(MICRO)
    parts = model(_batch(MICRO))
    assert set(parts) == {"itc", "itm", "mlm", "mim", "loss"}
    assert all(torch.isfinite(v) for v in parts.values())
    parts["loss"].backward()
    for name in ("vision.mask_token", "tl_text_proj.weight", "mim_head.0.weight", "itm_head.3.weight", "temp",
                 "mlm_head.dense.weight", "fusion.layer.1.cross_attn.query.weight"):
        assert dict(model.named_parameters())[name].grad is not None, name


def test_plain_attention_on_cpu_gives_sdpas_losses_and_gradients():
    """BiIRRA.place(cpu) swaps every attention (vision, XLM-R, fusion, padded text included) to plain
    matrix products; the training step must not notice beyond float rounding."""
    from tipr_bench.baselines.bi_irra.vision_tower import Attention

    batch = _batch(MICRO)
    batch.tg_att[:, -3:] = 0  # padding masked in the text towers and in the cross-attention to text
    results = []
    for plain in (False, True):
        torch.manual_seed(0)
        model = BiIRRA(MICRO).eval()  # eval: dropout off, so both runs see the same computation
        if plain:
            model.place(torch.device("cpu"))
            assert all(m.plain for m in model.modules() if isinstance(m, Attention))
            assert model.text.config._attn_implementation == "eager"
        parts = model(batch)
        parts["loss"].backward()
        results.append((parts, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (sdpa, sdpa_grads), (plain, plain_grads) = results
    for name in sdpa:
        assert torch.allclose(sdpa[name], plain[name], rtol=1e-4, atol=1e-5), name
    assert sdpa_grads.keys() == plain_grads.keys()
    for name, grad in sdpa_grads.items():
        assert torch.allclose(grad, plain_grads[name], rtol=1e-3, atol=1e-5), name


def test_target_language_projection_starts_as_the_english_one():
    model = BiIRRA(MICRO)
    assert torch.equal(model.tl_text_proj.weight, model.text_proj.weight)
    assert model.temp.item() == pytest.approx(0.07)


def test_relative_position_index_covers_the_table():
    index = relative_position_index((4, 2))
    assert index.shape == (9, 9)
    assert index.max().item() == (2 * 4 - 1) * (2 * 2 - 1) + 2 and index.min().item() == 0


def test_published_and_tiny_configs_are_consistent():
    assert BASE.image_size == (224, 224) and BASE.patch_size == 16 and BASE.text_layers == 12
    assert BASE.fusion_layers == 6 and BASE.embed_dim == 256 and BASE.mlm_max_masks == 12
    assert (BASE.itm_weight, BASE.mim_weight, BASE.lr, BASE.weight_decay) == (4.0, 4.0, 5e-5, 0.02)
    assert TINY.grid[0] * TINY.grid[1] > 0
    with pytest.raises(UserError):
        TINY.with_overrides(text_width=64, vision_width=96)
