"""Bi-IRRA against the reference code (hiennguyen9874/llm-wiki@a6c90a5 raw/codes/Bi-IRRA): caption
cleaning and token ids, the position-id convention per checkpoint kind, which captions train and
query, the reference's augmentation and masks, and global batches. See docs/FIDELITY.md."""

from __future__ import annotations

import io
import random

import pytest
import sentencepiece as spm
import torch
from transformers import XLMRobertaConfig, XLMRobertaModel

from tests.support.bi_irra_micro import MICRO
from tests.support.bi_irra_sample import build_workspace
from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra import config as configs
from tipr_bench.baselines.bi_irra.augment import reference_recipe
from tipr_bench.baselines.bi_irra.config import BiIrraConfig, get_config, parse_settings
from tipr_bench.baselines.bi_irra.data import collate, epoch_batches, load_pairs
from tipr_bench.baselines.bi_irra.inference import load_model
from tipr_bench.baselines.bi_irra.masking import mask_tokens
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.optimizer import decay_split, param_groups
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer, clean_caption
from tipr_bench.baselines.bi_irra.train import TrainOptions, train
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.core.errors import UserError

CAPTION = "The MAN wears a Red shirt, (black) pants... He carries: a bag~"
CLEANED = "the man wears a red shirt, black pants he carries a bag"  # by hand, per pre_caption's rules


def _xlmr_layout_sentencepiece(texts: list[str]) -> bytes:
    """A small sentencepiece model with XLM-R's own id layout (unk 0, <s> 1, </s> 2, no pad)."""
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts * 20), model_writer=out, vocab_size=60,
                                   model_type="unigram", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   hard_vocab_limit=False, minloglevel=2)
    return out.getvalue()


def _xlmr_folder(tmp_path, texts: list[str], layer_norm_eps: float = 1e-12):
    """A Hugging Face XLM-R folder at micro size: config, weights and sentencepiece.bpe.model
    (xlm-roberta-base's own config.json says layer_norm_eps 1e-5)."""
    folder = tmp_path / "xlmr"
    folder.mkdir()
    proto = _xlmr_layout_sentencepiece(texts)
    (folder / "sentencepiece.bpe.model").write_bytes(proto)
    vocab = spm.SentencePieceProcessor(model_proto=proto).get_piece_size() + 2
    cfg = XLMRobertaConfig(vocab_size=vocab, hidden_size=MICRO.text_width, num_hidden_layers=MICRO.text_layers,
                           num_attention_heads=MICRO.text_heads, intermediate_size=MICRO.text_ffn,
                           max_position_embeddings=MICRO.max_positions, pad_token_id=1, type_vocab_size=1,
                           layer_norm_eps=layer_norm_eps)
    XLMRobertaModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder, vocab


def test_captions_are_cleaned_as_the_reference_does():
    assert clean_caption(CAPTION, 77) == CLEANED
    assert clean_caption("One two; three: FOUR five", 3) == "one two three"
    assert clean_caption("红色的衬衫！(黑色)裤子。", 77) == "红色的衬衫！ 黑色 裤子。"  # only the ASCII marks


def test_a_caption_with_capitals_and_punctuation_gives_the_reference_token_ids(tmp_path):
    pytest.importorskip("google.protobuf")  # Hugging Face reads a sentencepiece model through it
    from transformers import XLMRobertaTokenizer

    folder = tmp_path / "xlmr"
    folder.mkdir()
    (folder / "sentencepiece.bpe.model").write_bytes(_xlmr_layout_sentencepiece(
        [CLEANED, "a woman in a blue coat and white shoes", "他穿着红色的衬衫"]))
    reference = XLMRobertaTokenizer.from_pretrained(str(folder))
    # the reference: pre_caption, then [cls] + tokenize(...) + [sep] (misc/caption_dataset.py preprocess)
    expected = [reference.cls_token_id, *reference.convert_tokens_to_ids(reference.tokenize(CLEANED)),
                reference.sep_token_id]
    ours = Tokenizer.from_xlmr_folder(folder)
    assert ours.ids(CAPTION, 77) == expected
    assert ours.ids(CAPTION, 77) != [0, *ours.sp.encode(CAPTION), 2]  # raw text would give other ids
    assert ours.mask_id == reference.mask_token_id and ours.vocab_size == len(reference)
    assert ours.ids(CAPTION, 6) == expected[:5] + [reference.sep_token_id]


def test_a_checkpoint_written_before_cleaning_keeps_reading_raw_text():
    tok = Tokenizer.train([CAPTION, "a woman in a blue coat"] * 10, 60)
    legacy = {k: v for k, v in tok.spec().items() if k != "clean"}
    assert Tokenizer.from_spec(legacy).clean is False and Tokenizer.from_spec(tok.spec()).clean is True


def test_position_ids_start_at_zero_for_cclm_weights_and_after_the_pad_id_for_hf_xlmr():
    torch.manual_seed(0)
    zero = BiIRRA(MICRO.with_overrides(position_ids="zero")).eval()
    hf = BiIRRA(MICRO.with_overrides(position_ids="xlmr")).eval()
    hf.load_state_dict(zero.state_dict())
    ids = torch.tensor([[0, 7, 9, 2, 1]])
    att = torch.tensor([[1, 1, 1, 1, 0]])
    with torch.no_grad():
        table = zero.text.embeddings.position_embeddings.weight
        expect_zero = zero.text(input_ids=ids, attention_mask=att, position_ids=torch.arange(5)[None]).last_hidden_state
        expect_hf = zero.text(input_ids=ids, attention_mask=att, position_ids=torch.tensor([[2, 3, 4, 5, 1]])
                              ).last_hidden_state
        assert torch.allclose(zero.encode_text(ids, att), expect_zero, atol=1e-6)
        assert torch.allclose(hf.encode_text(ids, att), expect_hf, atol=1e-6)
        table[0].add_(1.0)  # only the zero-based model's first token reads row 0
        assert not torch.allclose(zero.encode_text(ids, att)[0, 0], expect_zero[0, 0])
        hf.text.embeddings.position_embeddings.weight[0].add_(1.0)
        assert torch.allclose(hf.encode_text(ids, att), expect_hf, atol=1e-6)


def test_the_first_word_tokens_position_row_learns():
    torch.manual_seed(0)
    model = BiIRRA(MICRO.with_overrides(position_ids="zero"))
    table = model.text.embeddings.position_embeddings
    ids, att = torch.tensor([[0, 7, 9, 2], [0, 8, 2, 1]]), torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    model.text_features(model.encode_text(ids, att), target_lang=True).sum().backward()
    assert table.weight.grad[1].abs().sum() > 0  # row 1 is the first word token's position
    assert table.weight[1].abs().sum() > 0  # and starts at random, like every row


def test_a_model_rebuilt_from_its_checkpoint_computes_what_the_trained_one_did(tmp_path):
    texts = ["a man in a red shirt and black pants", "a woman with a blue bag", "他穿着红色的衬衫"]
    folder, vocab = _xlmr_folder(tmp_path, texts, layer_norm_eps=1e-5)
    tok = Tokenizer.from_xlmr_folder(folder)
    config = MICRO.with_overrides(vocab_size=vocab, dropout=0.0, attn_dropout=0.0)
    torch.manual_seed(0)
    trained = BiIRRA(config, folder).eval()  # as train() builds it with --xlmr
    path = tmp_path / "best.pt"
    ckpt.save(path, {"model_name": ckpt.MODEL, "lang": "zh", "config": config.to_dict(), "tokenizer": tok.spec(),
                     "model": trained.state_dict()})
    rebuilt = load_model(path, torch.device("cpu")).model  # as evaluate and --resume rebuild it
    trained.place(torch.device("cpu"))
    ids, att = tok.encode(texts, config.max_text_len)
    images = torch.randn(2, 3, *config.image_size)
    with torch.no_grad():
        assert torch.equal(trained.encode_text(ids, att), rebuilt.encode_text(ids, att))
        scores = [m.itm_logits(m.encode_text(ids[:2], att[:2]), att[:2], m.encode_image(images))
                  for m in (trained, rebuilt)]
        assert torch.equal(*scores)


@pytest.fixture()
def micro_config(monkeypatch):
    monkeypatch.setitem(configs.CONFIGS, "micro", MICRO.with_overrides(epochs=1, batch_size=4))
    torch.set_num_threads(1)


def test_training_picks_the_position_convention_from_the_checkpoint_kind(tmp_path, micro_config):
    ws = build_workspace(tmp_path, persons=5)
    texts = [c.text for c in ws.captions("synth")] + [c.text for c in ws.captions("synth", lang="zh")]
    folder, vocab = _xlmr_folder(tmp_path, texts)
    cclm = tmp_path / "cclm.th"  # CCLM/X2-VLM key names, with the text position table
    torch.save({"model": {"text_encoder.embeddings.position_embeddings.weight":
                          torch.full((MICRO.max_positions, MICRO.text_width), 0.5)}}, cclm)
    common = dict(lang="zh", config="micro", device="cpu", progress=False, test=False, max_steps=1, threads=1)

    hf_only = train(ws, TrainOptions(**common, xlmr=folder))
    config = BiIrraConfig.from_dict(ckpt.load(hf_only.last)["config"])
    assert config.position_ids == "xlmr" and config.vocab_size == vocab

    with_init = train(ws, TrainOptions(**common, xlmr=folder, init=cclm, seed=1))
    assert BiIrraConfig.from_dict(ckpt.load(with_init.last)["config"]).position_ids == "zero"
    assert any("positions zero" in note for note in with_init.notes)

    scratch = train(ws, TrainOptions(**common, seed=2))
    assert BiIrraConfig.from_dict(ckpt.load(scratch.last)["config"]).position_ids == "zero"


def test_failed_and_empty_translations_are_left_out_of_training_and_queries(tmp_path):
    ws = build_workspace(tmp_path, persons=5)
    train_keys = [c.key for c in ws.captions("synth", "train")]
    ws.conn.execute("UPDATE translations SET status = 'failed', text = '' WHERE key = ?", (train_keys[0],))
    ws.conn.execute("UPDATE translations SET status = 'flagged', reason = 'empty output', text = '' WHERE key = ?",
                    (train_keys[1],))
    ws.conn.execute("UPDATE translations SET status = 'flagged', text = 'a' WHERE key = ?", (train_keys[2],))
    pairs = load_pairs(ws, "synth", "train", "zh")
    assert pairs.left_out == 2 and {p.key for p in pairs.pairs} == set(train_keys[2:])
    assert all(p.tg.strip() for p in pairs.pairs)
    test = split_captions(ws, "synth", "test", "zh")
    assert test.left_out == 0 and len(test.usable) == len(test.english)


def test_old_checkpoints_keep_the_choices_they_were_trained_with():
    stored = {k: v for k, v in MICRO.to_dict().items() if k not in configs.BEFORE_FIELD}
    old = BiIrraConfig.from_dict(stored)
    assert (old.normalization, old.augment, old.position_ids, old.rerank_score, old.drop_last) == (
        "clip", "irra", "xlmr", "itc+itm", False)
    new = BiIrraConfig()
    assert (new.normalization, new.augment, new.position_ids, new.rerank_score, new.drop_last) == (
        "imagenet", "reference", "zero", "itm", True)


def test_presets_and_settings():
    ufine = get_config("base", "ufinebench")
    assert (ufine.max_text_len, ufine.batch_size) == (168, 64)
    assert get_config("base", "cuhk-pedes").batch_size == 128 and get_config("tiny", "ufinebench").max_text_len == 64
    assert parse_settings(["augment=irra", "drop_last=false", "attn_dropout=0"]) == {
        "augment": "irra", "drop_last": False, "attn_dropout": 0.0}
    with pytest.raises(UserError, match="--set 'colour=red'"):
        parse_settings(["colour=red"])
    with pytest.raises(UserError, match="drop_last takes a bool"):
        parse_settings(["drop_last=maybe"])


def test_the_reference_augmentation_is_reproducible_and_stays_in_range():
    image = torch.randint(0, 256, (3, 32, 16), dtype=torch.uint8)
    outs = [reference_recipe(image, random.Random(seed), "imagenet") for seed in range(40)]
    again = [reference_recipe(image, random.Random(seed), "imagenet") for seed in range(40)]
    assert all(torch.equal(a, b) for a, b in zip(outs, again, strict=True))
    assert all(o.shape == (3, 32, 16) and torch.isfinite(o).all() for o in outs)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    low, high = (-mean / std).min(), ((1 - mean) / std).max()
    assert all(o.min() >= low - 1e-4 and o.max() <= high + 1e-4 for o in outs)
    assert len({o.sum().item() for o in outs}) > 15  # the draws differ (flip, gray, erase may do nothing)


def test_one_image_mask_per_batch_and_eos_can_be_masked():
    tok = Tokenizer.train([CAPTION, "a woman in a blue coat"] * 10, 60)
    rng = random.Random(0)
    items = [{"image": torch.zeros(3, 4, 4), "patch_mask": torch.rand(6) > 0.5, "pid": i,
              "en": [0, 5, 6, 2], "tg": [0, 7, 2],
              "en_mlm": mask_tokens([0, 5, 6, 2], special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=60,
                                    rng=rng, max_masks=4),
              "tg_mlm": mask_tokens([0, 7, 2], special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=60,
                                    rng=rng, max_masks=4)} for i in range(3)]
    batch = collate(tok, 0)(items)
    assert all(torch.equal(row, items[0]["patch_mask"]) for row in batch.patch_mask)
    masked_eos = [mask_tokens([0, 5, 2], special_ids=tok.special_ids, mask_id=tok.mask_id, vocab_size=60,
                              rng=random.Random(s), prob=1.0, max_masks=4, mask_eos=True) for s in range(20)]
    assert all(0 not in m.positions[m.labels != -100].tolist() for m in masked_eos)
    assert any(2 in m.positions.tolist() for m in masked_eos)


def test_global_batches_are_the_same_for_any_number_of_processes():
    single = epoch_batches(50, 8, seed=3, epoch=1)
    for world in (2, 4):
        shares = [epoch_batches(50, 8, seed=3, epoch=1, rank=r, world=world) for r in range(world)]
        assert [sum((s[k] for s in shares), []) for k in range(len(single))] == single
    assert len(single) == 6 and len(epoch_batches(50, 8, 3, 1, drop_last=False)) == 7


def test_weight_decay_follows_the_reference_on_tokens_and_tables():
    model = BiIRRA(MICRO)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in param_groups(model, 0.02, "reference")[0]["params"]}
    assert {"vision.cls_token", "vision.mask_token"} <= decayed and "temp" not in decayed
    assert not any(n.endswith(".bias") for n in decayed)
    # misc/build.py exempts every name containing 'bias': BEiT's relative position tables too
    decay, exempt = decay_split(model, "reference")
    tables = [f"vision.blocks.{i}.attn.relative_position_bias_table" for i in range(MICRO.vision_layers)]
    assert set(tables) <= set(exempt) and not set(tables) & set(decay)
    assert "text.embeddings.position_embeddings.weight" in decay  # no 'bias' in its name: decayed there too
    kept = {names[id(p)] for p in param_groups(model, 0.02, "matrices")[0]["params"]}
    assert "vision.cls_token" not in kept
