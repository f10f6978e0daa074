"""Each Bi-IRRA loss on hand-made cases whose value is known."""

import math

import pytest
import torch
import torch.nn.functional as F

from tipr_bench.baselines.bi_irra import losses


def test_itc_of_identical_features_is_near_zero_with_low_temperature():
    feats = torch.eye(6)
    assert losses.itc_loss(feats, feats, 0.01).item() < 1e-6


def test_itc_of_uniform_similarity_is_log_n():
    n = 8
    feats = F.normalize(torch.ones(n, 4), dim=-1)
    assert losses.itc_loss(feats, feats, 0.07).item() == pytest.approx(math.log(n), rel=1e-5)


def test_itc_with_person_ids_spreads_the_target_over_all_positives():
    # two samples of the same person with identical features: the soft target puts 1/2 on each, so the
    # best achievable loss is log(2), not 0
    feats = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    pids = torch.tensor([7, 7, 9])
    value = losses.itc_loss(feats, feats, 0.001, pids).item()
    assert value == pytest.approx((2 * math.log(2) + 0) / 3, rel=1e-4)


def test_hard_negatives_never_pick_the_same_person():
    torch.manual_seed(0)
    feats = F.normalize(torch.randn(12, 8), dim=-1)
    pids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    for _ in range(20):
        neg_image, neg_text = losses.sample_hard_negatives(feats, feats, 0.07, pids)
        assert (pids[neg_image] != pids).all() and (pids[neg_text] != pids).all()


def test_hard_negatives_prefer_the_most_similar_other_person():
    image = torch.tensor([[1.0, 0.0], [0.9, 0.436], [0.0, 1.0], [-1.0, 0.0]])
    pids = torch.arange(4)
    gen = torch.Generator().manual_seed(0)
    picks = [losses.sample_hard_negatives(image, image, 0.05, pids, gen)[0][0].item() for _ in range(50)]
    assert picks.count(1) > 45  # text 0 is closest to image 1


def test_hard_negatives_fall_back_when_the_batch_has_one_person():
    feats = F.normalize(torch.randn(3, 4), dim=-1)
    neg_image, _ = losses.sample_hard_negatives(feats, feats, 0.07, torch.zeros(3, dtype=torch.long))
    assert (neg_image != torch.arange(3)).all()


def test_itm_loss_is_zero_when_confidently_right_and_large_when_wrong():
    pos = torch.tensor([[-20.0, 20.0]] * 3)
    neg = torch.tensor([[20.0, -20.0]] * 6)
    assert losses.itm_loss(pos, neg).item() < 1e-6
    assert losses.itm_loss(neg[:3], pos.repeat(2, 1)).item() > 30


def test_mlm_loss_ignores_padding_labels():
    logits = torch.full((1, 3, 5), -10.0)
    logits[0, 0, 2] = 10.0
    labels = torch.tensor([[2, -100, -100]])
    assert losses.mlm_loss(logits, labels).item() < 1e-6


def test_d_mim_cosine_loss_values_and_stop_gradient():
    teacher = torch.randn(2, 5, 8, requires_grad=True)
    assert losses.d_mim_loss(teacher, teacher.detach() * 3).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.d_mim_loss(teacher, -teacher.detach()).item() == pytest.approx(2.0, abs=1e-6)
    student = torch.randn(2, 5, 8, requires_grad=True)
    losses.d_mim_loss(teacher, student).backward()
    assert teacher.grad is None and student.grad is not None


def test_total_loss_uses_the_published_weights():
    parts = {"itc": torch.tensor(1.0), "itm": torch.tensor(2.0), "mlm": torch.tensor(3.0), "mim": torch.tensor(4.0)}
    assert losses.total_loss(parts, 4.0, 4.0).item() == 1 + 8 + 3 + 16
