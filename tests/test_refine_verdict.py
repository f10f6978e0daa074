"""Verdicts and their reasons, and the ranking that decides whether a rewrite is kept."""

from __future__ import annotations

from tipr_bench.refine.verdict import Thresholds, assess

SRC = "A man in a red jacket."


def _assess(**kw):
    base = dict(back_translation="A man in a red jacket.", chrf=90.0, bleu=80.0, qe=0.9, theta=0.15)
    return assess("k", SRC, kw.pop("translation", "一个穿红色夹克的男人。"), **{**base, **kw})


def test_clean_translation_is_ok():
    a = _assess(terms_expected=("man", "red", "jacket"), terms_met=("man", "red", "jacket"))
    assert a.verdict == "ok" and a.reasons == () and a.penalty == 0


def test_sentence_signals_make_it_noisy_with_numbers_in_the_reasons():
    a = _assess(qe=0.80, chrf=20.0)
    assert a.verdict == "noisy"
    assert a.reasons == ("QE noise 0.20 > theta 0.15", "back-translation chrF 20.0 < 30")
    assert _assess(qe=0.85).verdict == "ok"  # noise == theta is kept (published rule)


def test_attributes_terms_and_output_checks_flag_it():
    a = _assess(attribute_issues=["colour of jacket: red -> blue"], terms_expected=("red", "jacket"),
                terms_met=("jacket",), term_reasons=["missed term: 红色 (red)"])
    assert a.verdict == "flagged"
    assert a.reasons == ("colour of jacket: red -> blue", "missed term: 红色 (red)")
    assert a.terms_missed == ("red",)
    flagged = _assess(status="flagged", status_reason="wrong script")
    assert flagged.verdict == "flagged" and flagged.reasons == ("output check: wrong script",)


def test_thresholds_are_configurable():
    lenient = Thresholds(chrf_min=10.0, max_missed_terms=1, attributes=False)
    a = _assess(chrf=20.0, attribute_issues=["gender: man -> woman"], terms_expected=("red",), terms_met=(),
                term_reasons=["missed term: 红色 (red)"], thresholds=lenient)
    assert a.verdict == "ok"


def test_failed_outranks_everything_and_ranking_prefers_fewer_problems():
    failed = _assess(translation="", status="failed", status_reason="request failed: timeout", chrf=None,
                     qe=None, back_translation="")
    assert failed.verdict == "failed" and failed.reasons[0] == "output check: failed (request failed: timeout)"
    wrong = _assess(attribute_issues=["colour of jacket: red -> blue"])
    noisy = _assess(qe=0.7)
    ok_low = _assess(chrf=60.0)
    ok_high = _assess(chrf=95.0)
    assert noisy.better_than(wrong) and wrong.better_than(failed)
    assert ok_low.better_than(noisy)
    assert ok_high.better_than(ok_low) and not ok_low.better_than(ok_high)
    assert not ok_high.better_than(ok_high)  # equal is not better: never replace with an equal
