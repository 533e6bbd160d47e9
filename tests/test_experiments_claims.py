"""claims: each claim turns into FAIL when the numbers behind it say otherwise, seed by seed.

The results here are built by hand (or taken from the cheap histogram experiment and then
altered), so each test knows which claim must hold on which seed.
"""

import math

import numpy as np
import pytest

from dlkit.experiments.claims import evaluate_claims, final_loss
from dlkit.experiments.histograms import activation_histograms
from dlkit.experiments.report import render_report
from dlkit.experiments.results import Result


def _by_text(claims, text):
    found = [c for c in claims if text in c.statement]
    assert len(found) == 1, [c.statement for c in claims]
    return found[0]


def test_histogram_claim_fails_on_the_seed_where_it_does_not_hold():
    r = activation_histograms(seeds=[0, 1])
    r.data["configs"]["sigmoid, σ=1"]["saturated"][1, 3] = 0.4  # seed 1, layer 4 not saturated
    c = _by_text(evaluate_claims({"h": r}), "sigmoid, σ=1")
    assert c.held == [True, False] and not c.passed and c.verdict == "FAIL"
    he = r.data["configs"]["ReLU, He"]["std"]
    he[0, 4] = 1.7 * he[0, 0]  # outside the factor 1.6
    c = _by_text(evaluate_claims({"h": r}), "ReLU, He")
    assert c.held == [False, True]


def _init_result(final):
    """An init_compare Result whose loss curves end at ``final[label]`` (per seed)."""
    iters = 100
    schemes = {}
    for label, ends in final.items():
        loss = np.array([np.linspace(2.3, end, iters) for end in ends])
        loss[:, -10:] = np.array(ends)[:, None]  # the last 10% = the final loss
        schemes[label] = {"weight_init": 0.01, "loss": loss, "train_acc": np.zeros(len(ends)),
                          "test_acc": np.zeros(len(ends))}
    return Result("init_compare", {"output_size": 10}, list(range(len(ends))),
                  {"schemes": schemes})


def test_init_compare_claims_follow_the_final_losses():
    ln10 = math.log(10)
    r = _init_result({"std=0.01": [ln10, ln10 - 0.05, 1.9], "Xavier": [0.5, 0.6, 0.4],
                      "He": [0.3, 0.7, 0.35]})
    claims = evaluate_claims([r])
    assert _by_text(claims, "does not learn").held == [True, True, False]
    assert _by_text(claims, "He learns fastest").held == [True, False, True]
    # Xavier nearer He than std=0.01: |0.5−0.3| < |2.30−0.5|; |0.6−0.7| < ...; |0.4−0.35| < ...
    assert _by_text(claims, "close behind").held == [True, True, True]
    r = _init_result({"std=0.01": [ln10], "Xavier": [1.5], "He": [0.3]})
    assert _by_text(evaluate_claims([r]), "close behind").held == [False]


def test_final_loss_is_the_mean_of_the_last_tenth():
    loss = np.concatenate([np.full(90, 5.0), np.arange(10.0)])
    assert final_loss(loss[None])[0] == pytest.approx(4.5)


def _bn_result(bn_final, plain_final):
    bn_final, plain_final = np.asarray(bn_final, float), np.asarray(plain_final, float)
    S, K = bn_final.shape
    data = {"weight_scales": np.logspace(0, -4, K)}
    for key, final in (("batchnorm", bn_final), ("plain", plain_final)):
        acc = np.zeros((S, K, 3))
        acc[:, :, -1] = final
        data[key] = {"train_acc": acc, "loss": np.zeros((S, K, 4))}
    settings = {"epochs": 2, "iter_per_epoch": 10, "lr": 0.01}
    return Result("batchnorm_compare", settings, list(range(S)), data)


def test_batchnorm_claims_count_scales():
    bn = [[0.5, 0.8, 0.9, 0.85, 0.3], [0.5, 0.8, 0.9, 0.85, 0.3]]
    plain = [[0.1, 0.85, 0.6, 0.1, 0.1], [0.1, 0.85, 0.95, 0.9, 0.1]]
    claims = evaluate_claims([_bn_result(bn, plain)])
    # seed 0: BN wins at 4 of 5 scales; seed 1: at 2 of 5 (not most)
    assert _by_text(claims, "for most").held == [True, False]
    # scales reaching 0.5: BN 4 on both seeds; plain 1 on seed 0, 3 on seed 1
    assert _by_text(claims, "depends less").held == [True, True]
    # BN's best 0.9; largest scale 0.5 and smallest 0.3 both more than 0.1 below it
    assert _by_text(claims, "Too small or too large").held == [True, True]
    bn[0][0] = 0.85  # largest scale now close to the best on seed 0
    claims = evaluate_claims([_bn_result(bn, plain)])
    assert _by_text(claims, "Too small or too large").held == [False, True]


def test_symmetry_claims_use_the_spread():
    spread = np.zeros((2, 4, 2))
    random = np.full((2, 4, 2), 0.3)
    data = {"inits": {
        "zeros": {"weight_init": "zeros", "spread": spread.copy(), "loss": np.zeros((2, 3)),
                  "moved": np.full((2, 2), 0.01)},
        "Xavier": {"weight_init": "xavier", "spread": random, "loss": np.zeros((2, 3)),
                   "moved": np.full((2, 2), 0.1)},
    }}
    data["inits"]["zeros"]["spread"][1, 2, 0] = 1e-6  # seed 1's units drift apart
    claims = evaluate_claims([Result("symmetry", {"steps": 3}, [0, 1], data)])
    assert _by_text(claims, "'zeros'").held == [True, False]
    assert _by_text(claims, "'Xavier'").held == [True, True]


def test_report_states_each_claim_with_numbers_and_verdict():
    r = activation_histograms(seeds=[0])
    r.data["configs"]["ReLU, σ=0.01"]["std"][0, 4] = 1.0  # make one claim FAIL
    claims = evaluate_claims({"activation_histograms": r})
    text = render_report({"activation_histograms": r}, claims,
                         {"activation_histograms": ["activation_histograms.png"]},
                         {"dataset": "none"})
    assert ("**6 of 7 claims of the lesson PASS**; 0 of 0 of the report's own observations "
            "hold.") in text
    for c in claims:
        assert c.statement in text and c.evidence in text
    assert text.count("**FAIL**") == 2  # in the summary table and in the section
    assert "![activation_histograms](activation_histograms.png)" in text


def test_unknown_results_are_refused():
    with pytest.raises(ValueError, match="no claims for experiment 'other'"):
        evaluate_claims([Result("other", {}, [0], {})])
    with pytest.raises(TypeError, match="must be Result objects"):
        evaluate_claims([{"experiment": "symmetry"}])
