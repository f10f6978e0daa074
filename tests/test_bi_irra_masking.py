"""MLM token masking (rate 0.4, cap 12) and blockwise image masking (exactly 50%, in blocks)."""

import random

import torch

from tipr_bench.baselines.bi_irra.masking import blockwise_mask, mask_tokens

SPECIAL = {0, 1, 2, 4}


def _caption(n: int) -> list[int]:
    return [0, *range(10, 10 + n), 2]


def test_mlm_masks_forty_percent_of_the_words():
    out = mask_tokens(_caption(10), special_ids=SPECIAL, mask_id=4, vocab_size=100, rng=random.Random(0))
    assert (out.labels != -100).sum().item() == 4


def test_mlm_caps_at_twelve_masks():
    out = mask_tokens(_caption(60), special_ids=SPECIAL, mask_id=4, vocab_size=100, rng=random.Random(0))
    assert out.positions.shape == (12,) and (out.labels != -100).sum().item() == 12


def test_mlm_never_masks_special_tokens_and_labels_hold_the_originals():
    ids = _caption(20)
    for seed in range(20):
        out = mask_tokens(ids, special_ids=SPECIAL, mask_id=4, vocab_size=100, rng=random.Random(seed))
        chosen = out.positions[out.labels != -100]
        assert 0 not in chosen.tolist() and len(ids) - 1 not in chosen.tolist()
        assert out.labels[out.labels != -100].tolist() == [ids[p] for p in chosen.tolist()]
        untouched = [i for i in range(len(ids)) if i not in chosen.tolist()]
        assert all(out.ids[i].item() == ids[i] for i in untouched)


def test_mlm_replaces_most_chosen_tokens_with_the_mask_id():
    replaced = total = 0
    for seed in range(200):
        out = mask_tokens(_caption(20), special_ids=SPECIAL, mask_id=4, vocab_size=100, rng=random.Random(seed))
        chosen = out.positions[out.labels != -100]
        replaced += (out.ids[chosen] == 4).sum().item()
        total += len(chosen)
    assert 0.75 < replaced / total < 0.85


def test_blockwise_mask_is_exactly_half():
    for grid in [(14, 14), (8, 4), (24, 8), (3, 3)]:
        for seed in range(5):
            mask = blockwise_mask(grid, 0.5, random.Random(seed))
            assert mask.dtype == torch.bool and mask.shape == (grid[0] * grid[1],)
            assert mask.sum().item() == round(0.5 * grid[0] * grid[1])


def test_blockwise_mask_is_blocky_not_scattered():
    # masked patches have far more masked 4-neighbours than a random 50% mask would give (~50%)
    grid = (14, 14)
    shares = []
    for seed in range(10):
        m = blockwise_mask(grid, 0.5, random.Random(seed)).view(grid).float()
        padded = torch.nn.functional.pad(m, (1, 1, 1, 1))
        neighbours = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
        degree = torch.nn.functional.pad(torch.ones(grid), (1, 1, 1, 1))
        deg = degree[:-2, 1:-1] + degree[2:, 1:-1] + degree[1:-1, :-2] + degree[1:-1, 2:]
        shares.append(((neighbours / deg) * m).sum().item() / m.sum().item())
    assert sum(shares) / len(shares) > 0.7


def test_blockwise_mask_is_reproducible():
    a = blockwise_mask((14, 14), 0.5, random.Random(3))
    b = blockwise_mask((14, 14), 0.5, random.Random(3))
    assert torch.equal(a, b)


def test_a_span_that_overshoots_is_trimmed_at_random_as_the_reference_does():
    # <s> a </s>: n_pred = round(3 * 0.4) = 1; every draw is a span of 2. Starting at `a`, the span
    # covers `a` and `</s>` and one of the two is kept at random; starting at `</s>`, it stops at the
    # end. So `a` is masked a quarter of the time (stopping at n_pred inside the span: half).
    picks = [mask_tokens([0, 5, 2], special_ids={0, 1, 2}, mask_id=3, vocab_size=50, rng=random.Random(seed),
                         skipgram_prob=1.0, skipgram_size=2, mask_eos=True) for seed in range(2000)]
    assert all((m.labels != -100).sum() == 1 for m in picks)
    share = sum(m.positions[0].item() == 1 for m in picks) / len(picks)
    assert 0.2 < share < 0.3
