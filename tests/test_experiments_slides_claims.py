"""The slides' further claims turn PASS or FAIL seed by seed as the numbers behind them say.

Results are built by hand with the shapes the experiments return, so each test knows which
claim must hold on which seed.
"""

import math

import numpy as np
import pytest

from dlkit.experiments.batchnorm_speed import steps_to_reach
from dlkit.experiments.claims import evaluate_claims
from dlkit.experiments.report import render_report
from dlkit.experiments.results import Result


def _by_text(claims, text):
    found = [c for c in claims if text in c.statement]
    assert len(found) == 1, [c.statement for c in claims]
    return found[0]


# ---------------------------------------------------------------------- gradient_flow
def _grad_config(activation, weight_init, act_grad, weight_grad):
    act_grad, weight_grad = np.asarray(act_grad, float), np.asarray(weight_grad, float)
    S = act_grad.shape[0]
    return {"activation": activation, "weight_init": weight_init,
            "act_grad": np.stack([act_grad, act_grad], axis=1),  # before = after training
            "weight_grad": np.stack([weight_grad, weight_grad], axis=1),
            "loss": np.zeros((S, 3))}


def _flat(value, S=2, n=5):
    return np.full((S, n), value)


def _decay(first, S=2, n=5):  # from `first` at layer 1 up to 1 at layer n
    return np.tile(np.geomspace(first, 1.0, n), (S, 1))


def _gradient_result(configs):
    settings = {"steps": 3, "hidden_size_list": [100] * 5, "input_size": 784}
    return Result("gradient_flow", settings, [0, 1], {"configs": configs})


def test_gradient_claims_follow_the_ratios():
    sigma1_z = _flat(1e-3)
    sigma1_z[1] = np.geomspace(1e-5, 1e-3, 5)  # seed 1: ∂L/∂z vanishes (ratio 0.01)
    sigma1_w = np.full((2, 6), 1e-2)
    sigma1_w[:, 0] = 5e-4  # layer 1's pixel inputs make its ∂L/∂W small: not counted
    sigma1_w[1, 1] = 5e-4  # seed 1: hidden layer 2's is 1/20 of hidden layer 5's
    configs = {
        "sigmoid, σ=1": _grad_config("sigmoid", 1.0, sigma1_z, sigma1_w),
        "sigmoid, Xavier": _grad_config("sigmoid", "xavier", _decay(0.003), _decay(0.003, n=6)),
        "tanh, Xavier": _grad_config("tanh", "xavier", _flat(1e-4), _flat(3e-3, n=6)),
        "ReLU, σ=0.01": _grad_config("relu", 0.01, _decay(1e-5), np.full((2, 6), 1e-8)),
        "ReLU, He": _grad_config("relu", "he", _flat(1e-4), _flat(1e-2, n=6)),
    }
    configs["ReLU, σ=0.01"]["weight_grad"][0, 1, 2] = 1e-3  # seed 0, after training: large
    configs["tanh, Xavier"]["weight_grad"][1, 0, 4] = 6e-3  # seed 1: factor 2 exactly
    claims = evaluate_claims([_gradient_result(configs)])
    assert len(claims) == 8
    # the slides' statement on ∂L/∂z: seed 0 flat (FAIL), seed 1 vanishes to 1/100 (holds)
    assert _by_text(claims, "gradient passed back, RMS ∂L/∂z").held == [False, True]
    # on ∂L/∂W, hidden layer 2 against hidden layer 5: seed 0 equal (FAIL although layer 1 is
    # 1/20 of layer 5: its inputs are pixels), seed 1 1/20 (holds)
    assert _by_text(claims, "weight gradients vanish toward").held == [False, True]
    # Xavier (ratio 0.003) vanishes more than σ=1 on seed 0 (1), not on seed 1 (0.01 > 0.003
    # still: Xavier is below 1/10 and below σ=1)
    assert _by_text(claims, "vanishes from Xavier's initial weights").held == [True, True]
    assert _by_text(claims, "small too").held == [True, True]
    assert _by_text(claims, "still below").held == [False, True]
    assert _by_text(claims, "ReLU, He: He's").held == [True, True]
    assert _by_text(claims, "sigmoid, Xavier: Xavier's").held == [False, False]
    assert _by_text(claims, "tanh, Xavier").held == [True, False]  # "less than a factor 2"
    sources = {c.statement.split(":")[0]: c.source for c in claims}
    # the slides claim vanishing gradients for σ=1 and small ones for ReLU σ=0.01; the rest
    # are the report's own observations
    assert [c.source for c in claims] == ["lesson", "lesson", "observation", "lesson",
                                          "observation", "observation", "observation",
                                          "observation"], sources


def test_gradient_claims_skip_configurations_not_run():
    configs = {"ReLU, He": _grad_config("relu", "he", _flat(1e-4), _flat(1e-2, n=6))}
    claims = evaluate_claims([_gradient_result(configs)])
    assert [c.statement.split(":")[0] for c in claims] == ["ReLU, He"]


# ------------------------------------------------------------------- init_activations
def _loss(ends, iters=50):
    loss = np.array([np.linspace(2.3, end, iters) for end in ends])
    loss[:, -5:] = np.array(ends)[:, None]
    return loss


def test_init_activation_claims_want_the_recommended_scheme_lowest():
    ln10 = math.log(10)
    rows = {
        "sigmoid": {"std=0.01": {"loss": _loss([ln10, ln10])},
                    "Xavier": {"loss": _loss([2.0, 2.302])},
                    "He": {"loss": _loss([2.1, 2.29])}},
        "relu": {"std=0.01": {"loss": _loss([ln10, ln10])},
                 "Xavier": {"loss": _loss([0.5, 0.5])},
                 "He": {"loss": _loss([0.4, 0.6])}},
    }
    claims = evaluate_claims([Result("init_activations", {}, [0, 1], {"activations": rows})])
    assert _by_text(claims, "Xavier suits sigmoid").held == [True, False]
    assert _by_text(claims, "He suits ReLU").held == [True, False]


# ------------------------------------------------------------------- learning speed
def test_steps_to_reach_counts_epochs_and_marks_never():
    acc = np.array([[0.1, 0.5, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4], [0.9, 0.9, 0.9, 0.9]])
    assert steps_to_reach(acc, 0.8, 10).tolist() == [20.0, math.inf, 0.0]


def _speed_result(bn_steps, plain_steps, lrs=(0.01, 0.1, 1.0)):
    data = {"lrs": np.array(lrs)}
    for key, steps in (("batchnorm", bn_steps), ("plain", plain_steps)):
        steps = np.array(steps, float)
        data[key] = {"steps_to_target": steps, "train_acc": np.zeros(steps.shape + (3,)),
                     "loss": np.zeros(steps.shape + (4,))}
    settings = {"target_acc": 0.8, "epochs": 20, "weight_init": "he", "iter_per_epoch": 10}
    return Result("batchnorm_speed", settings, list(range(len(bn_steps))), data)


def test_speed_claims_count_never_as_slower():
    inf = math.inf
    r = _speed_result(bn_steps=[[80, 30, 40], [inf, 30, inf], [90, inf, inf]],
                      plain_steps=[[170, 100, inf], [inf, 50, inf], [90, 60, inf]])
    claims = evaluate_claims([r])
    # lr 0.01: 80 < 170; neither reaches (not faster); 90 = 90 (not faster)
    assert _by_text(claims, "At SGD lr 0.01").held == [True, False, False]
    # largest lr reaching 0.8: BN 1.0 vs 0.1; 0.1 vs 0.1; 0.01 vs 0.1
    assert _by_text(claims, "tolerates larger").held == [True, False, False]
    assert "He's initial weights" in _by_text(claims, "At SGD lr 0.01").statement


def _bn_compare(bn_acc, plain_acc):
    bn_acc, plain_acc = np.asarray(bn_acc, float), np.asarray(plain_acc, float)
    S, K, _ = bn_acc.shape
    data = {"weight_scales": np.logspace(0, -2, K),
            "batchnorm": {"train_acc": bn_acc, "loss": np.zeros((S, K, 4))},
            "plain": {"train_acc": plain_acc, "loss": np.zeros((S, K, 4))}}
    settings = {"epochs": bn_acc.shape[2] - 1, "iter_per_epoch": 10, "lr": 0.01}
    return Result("batchnorm_compare", settings, list(range(S)), data)


def test_faster_at_the_books_scales_compares_where_the_plain_network_gets_there():
    fast, slow, never = [0.1, 0.85, 0.9], [0.1, 0.5, 0.85], [0.1, 0.2, 0.3]
    bn = [[fast, slow, never], [fast, fast, never], [fast, fast, fast]]
    plain = [[slow, fast, never], [slow, slow, never], [never, never, never]]
    c = _by_text(evaluate_claims([_bn_compare(bn, plain)]), "learns faster at the book's")
    # seed 0: at scale 2 the plain network is faster; seed 1: BN faster at both scales where
    # the plain network gets there; seed 2: the plain network never gets there (nothing shown)
    assert c.held == [False, True, False]
    assert "BN 20, without 10" in c.evidence and "seed 2: none" in c.evidence


# ------------------------------------------------------------------------ overfitting
def _overfit_result(final):
    """final: label -> (training accuracy per seed, test accuracy per seed); the label says
    the configuration: 'He' or 'σ=…', ', BatchNorm', ', weight decay 0.1'."""
    configs = {}
    for label, (train, test) in final.items():
        train, test = np.array(train), np.array(test)
        scheme = label.split(",")[0]
        configs[label] = {
            "weight_init": "he" if scheme == "He" else float(scheme[2:]),
            "use_batchnorm": "BatchNorm" in label,
            "weight_decay_lambda": 0.1 if "weight decay" in label else 0.0,
            "train_acc": np.stack([np.zeros_like(train), train], axis=1),
            "test_acc": np.stack([np.zeros_like(test), test], axis=1),
            "final_test_acc": test, "loss": np.zeros((len(train), 3))}
    settings = {"epochs": 200, "train_size": 300, "input_size": 784,
                "hidden_size_list": [100] * 6, "test_eval_size": 100}
    return Result("overfitting", settings, [0, 1], {"epochs": np.array([0, 200]),
                                                   "configs": configs})


def test_overfitting_claims_compare_the_gaps_of_networks_that_learned_by_a_margin():
    r = _overfit_result({
        "He, BatchNorm": ([1.0, 1.0], [0.70, 0.80]),  # gaps 0.30, 0.20
        "σ=0.01, BatchNorm": ([1.0, 1.0], [0.76, 0.80]),  # gaps 0.24 (within 0.025), 0.20
        "He": ([1.0, 1.0], [0.75, 0.75]),  # gaps 0.25, 0.25
        "He, weight decay 0.1": ([0.8, 0.4], [0.7, 0.35]),  # 0.10; seed 1 did not learn
        "σ=0.1": ([0.8, 0.9], [0.7, 0.78]),  # gaps 0.10, 0.12: smaller; test lower
        "σ=0.01": ([0.11, 0.11], [0.1, 0.1]),  # learns nothing: tiny gap, chance test
    })
    claims = evaluate_claims(r if isinstance(r, list) else [r])
    he_bn = _by_text(claims, "from He's initial weights:")
    assert he_bn.held == [False, True] and he_bn.source == "lesson"
    assert _by_text(claims, "from σ = 0.01").held == [False, True]
    decay = _by_text(claims, "Weight decay (λ = 0.1")
    assert decay.held == [True, False]  # seed 1: 0.4 training accuracy, no gap to compare
    assert _by_text(claims, "with weight decay (λ = 0.1) the test").held == [False, False]
    small = _by_text(claims, "Small weights make overfitting less likely")
    # σ=0.01 learned nothing: its 0.01 gap is not compared; σ=0.1's is smaller on both seeds
    assert small.held == [True, True] and "σ=0.1, σ=0.01" in small.statement
    assert "0.051 in the first layer, 0.14" in small.statement  # He's σ from the settings
    assert "did not learn on any seed: σ=0.01" in small.evidence
    better = _by_text(claims, "generalize at least as well")
    assert better.held == [False, True] and better.source == "observation"  # 0.78 ≥ 0.75


def test_small_weights_that_learned_nothing_do_not_pass_the_small_weights_claim():
    r = _overfit_result({"He": ([1.0, 1.0], [0.75, 0.75]),
                         "σ=0.01": ([0.11, 0.11], [0.1, 0.1])})
    assert _by_text(evaluate_claims([r]), "Small weights make").held == [False, False]


def test_the_batchnorm_note_concludes_from_both_initial_scales():
    def note(bn_he, bn_small):
        r = _overfit_result({"He, BatchNorm": ([1.0, 1.0], bn_he),
                             "σ=0.01, BatchNorm": ([1.0, 1.0], bn_small),
                             "He": ([1.0, 1.0], [0.75, 0.75])})
        return _by_text(evaluate_claims([r]), "from σ = 0.01").note

    assert "depends on its initial scale" in note([0.6, 0.6], [0.8, 0.8])
    assert "does not suppress overfitting here, from either" in note([0.6, 0.6], [0.76, 0.76])
    assert "from both initial scales" in note([0.8, 0.8], [0.8, 0.8])


def test_the_report_shows_the_new_tables():
    ln10 = math.log(10)
    rows = {a: {k: {"loss": _loss([ln10, 0.5]), "train_acc": np.zeros(2),
                    "test_acc": np.zeros(2), "weight_init": 0.01}
                for k in ("std=0.01", "Xavier", "He")} for a in ("sigmoid", "relu")}
    lrs = {"sigmoid": 1.0, "relu": 0.01}
    inf = math.inf
    results = {
        "init_activations": Result("init_activations", {"lr": lrs}, [0, 1],
                                   {"activations": rows}),
        "batchnorm_speed": _speed_result([[80, 30, inf], [80, 30, inf]],
                                         [[inf, 50, inf], [170, 60, inf]]),
        "overfitting": _overfit_result({"He, BatchNorm": ([1.0, 1.0], [0.7, 0.8]),
                                        "He": ([1.0, 1.0], [0.75, 0.75]),
                                        "σ=0.1": ([0.9, 0.9], [0.8, 0.8])}),
    }
    claims = evaluate_claims(results)
    text = render_report(results, claims, {}, {"dataset": "none"})
    # the table activation × initializer: final losses, mean ± sd over the two seeds
    assert "| activation | SGD lr | std=0.01 | Xavier | He |" in text
    assert f"| sigmoid | 1 | {(ln10 + 0.5) / 2:.3f} ± {(ln10 - 0.5) / 2:.3f} |" in text
    assert "| ReLU | 0.01 |" in text
    assert "| 0.01 | 80 80 | — 170 |" in text  # steps per seed, — where never reached
    assert "| He, BatchNorm | 1.000 ± 0.000 | 0.750 ± 0.050 | 0.250 ± 0.050 |" in text
    for c in claims:
        assert c.statement in text and c.evidence in text
    # lesson claims and the report's own observations are counted apart
    lesson = [c for c in claims if c.source == "lesson"]
    own = [c for c in claims if c.source == "observation"]
    assert own and f"{sum(c.passed for c in lesson)} of {len(lesson)} claims of the lesson" in text
    assert f"{sum(c.passed for c in own)} of {len(own)} of the report's own observations" in text
    assert "*Observation (not the slides' claim):*" in text


# ------------------------------------------------------------------ the effective step
def test_behind_batchnorm_the_effective_step_falls_as_one_over_the_weights_squared():
    """Scaling a hidden layer's W by c leaves a BN network's loss as it is, so its gradient
    shrinks by 1/c and the effective step lr·‖∂L/∂W‖/‖W‖ by 1/c²; without BN it does not."""
    from dlkit.experiments.batchnorm_compare import effective_step
    from dlkit.network import MultiLayerNet

    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((64, 12)), rng.integers(0, 4, 64)

    def step(use_batchnorm, c):
        net = MultiLayerNet(12, [20, 20], 4, use_batchnorm=use_batchnorm, seed=1)
        net.params["W2"] *= c
        grads = net.gradient(x, t)
        return effective_step(net.params, grads, 0.01, 3), net.loss(x, t, train_flg=True)

    (bn1, loss1), (bn3, loss3) = step(True, 1.0), step(True, 3.0)
    # the same loss up to BN's eps (1e-6 beside a variance of order 1)
    assert loss3 == pytest.approx(loss1, rel=1e-5)
    assert bn3[1] / bn1[1] == pytest.approx(1 / 9, rel=1e-3)
    plain1, plain3 = step(False, 1.0)[0], step(False, 3.0)[0]
    assert abs(plain3[1] / plain1[1] - 1 / 9) > 0.05


def _bn_compare_with_steps(bn_acc, plain_acc, eff_bn, eff_plain):
    r = _bn_compare(bn_acc, plain_acc)
    S, K, _ = np.asarray(bn_acc).shape
    for key, eff in (("batchnorm", eff_bn), ("plain", eff_plain)):
        r.data[key]["effective_step"] = np.repeat(np.asarray(eff, float)[:, :, None], 3,
                                                  axis=2)  # 2 hidden layers + output
    r.settings["hidden_size_list"] = [100, 100]
    return r


def test_the_effective_step_claims_measure_why_batchnorm_is_slower():
    fast, slow, never = [0.1, 0.85, 0.9], [0.1, 0.5, 0.85], [0.1, 0.2, 0.3]
    scales = np.logspace(0, -2, 3)  # 1, 0.1, 0.01, as _bn_compare
    bn = [[never, slow, fast], [never, slow, fast]]
    plain = [[fast, fast, never], [fast, fast, never]]
    eff_bn = [1e-3 / scales, np.full(3, 1e-3)]  # seed 0: ∝ 1/σ; seed 1: flat
    eff_plain = [[0.1, 0.05, 1e-5], [0.1, 1e-4, 1e-5]]  # seed 1: at 0.1 smaller than BN's
    claims = evaluate_claims([_bn_compare_with_steps(bn, plain, eff_bn, eff_plain)])
    faster = _by_text(claims, "learns faster at the book's")
    assert faster.held == [False, False]
    assert "reaches 80% only from the scales 1, 0.1" in faster.note
    falls = _by_text(claims, "a larger initial scale takes smaller steps")
    assert falls.held == [True, False] and falls.source == "observation"
    assert falls.numbers["slope"] == pytest.approx([-1, 0], abs=1e-9)
    smaller = _by_text(claims, "Where BatchNorm is the slower one")
    assert smaller.held == [True, False]  # seed 1: at 0.1 BN's step 1e-3 > plain's 1e-4
    assert "W 0.1: BN 0.001, without 0.0001" in smaller.evidence


def test_results_without_the_effective_step_keep_the_speed_claim_only():
    fast = [0.1, 0.85, 0.9]
    claims = evaluate_claims([_bn_compare([[fast] * 3], [[fast] * 3])])
    assert [c.statement.split(":")[0] for c in claims][-1].startswith(
        "BatchNorm learns faster at the book's weight scales")
