"""activation_histograms: the lesson's claims (book section 6.2.2) as assertions on the numbers.

Thresholds come from the arithmetic of the experiment (input N(0, 1), 100 units per layer)
and are explained where they are used; 5 seeds so that no claim rests on one lucky draw.
"""

import numpy as np
import pytest

from dlkit.experiments.claims import evaluate_claims
from dlkit.experiments.histograms import DEFAULT_CONFIGS, activation_histograms

SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def result():
    return activation_histograms(seeds=SEEDS)


def test_shapes_and_counts(result):
    c = result.data["configs"]
    assert list(c) == [cfg["name"] for cfg in DEFAULT_CONFIGS]
    for name, d in c.items():
        assert d["hist"].shape == (5, 5, 30), name
        assert d["std"].shape == (5, 5), name
        assert d["edges"].shape == (31,)
        counts = d["hist"].sum(axis=2)
        if d["activation"] == "relu":
            # values above 1 fall outside the book's range (0, 1)
            assert (counts <= 1000 * 100).all() and (counts > 0).all(), name
        else:
            # sigmoid and tanh outputs all lie in the closed range of the bins
            assert (counts == 1000 * 100).all(), name


def test_sigmoid_sigma_1_saturates_every_layer(result):
    # a = z·W has std ≈ 10 in layer 1 and ≈ 7 after (100 inputs of ~0/1 times N(0, 1)):
    # P(|a| > 2.2) ≈ 0.75–0.83 → most activations where sigmoid's slope < 0.09.
    sat = result.data["configs"]["sigmoid, σ=1"]["saturated"]
    assert (sat > 0.5).all(), sat


def test_sigmoid_sigma_001_piles_up_at_one_half(result):
    # std of a ≈ 0.1 (layer 1) then 0.05; sigmoid's slope 0.25 → std(z) ≈ 0.025, then 0.0125.
    d = result.data["configs"]["sigmoid, σ=0.01"]
    assert (d["std"] < 0.03).all(), d["std"]
    assert (np.abs(d["mean"] - 0.5) < 0.05).all(), d["mean"]


def test_xavier_keeps_the_spread_for_sigmoid_and_tanh(result):
    # Xavier: std(a) ≈ 1 in layer 1, ≈ √E[z²] after; sigmoid std ≥ 0.11 (vs < 0.03 above),
    # tanh std decays slowly from 0.63 to ≈ 0.32 by layer 5.
    sig = result.data["configs"]["sigmoid, Xavier"]
    tanh = result.data["configs"]["tanh, Xavier"]
    assert (sig["std"] > 0.1).all(), sig["std"]
    assert (tanh["std"] > 0.25).all(), tanh["std"]
    # and few units saturated after the first layer (layer 1 of tanh sees std-1 input: ~14%)
    assert (sig["saturated"][:, 1:] < 0.1).all() and (tanh["saturated"][:, 1:] < 0.1).all()


def test_relu_small_weights_collapse_to_zero(result):
    # each layer multiplies the std by ≈ 0.01·√100/√2 ≈ 0.07: layer 5 ≈ 1e-6 (layer 1 ≈ 0.06)
    std = result.data["configs"]["ReLU, σ=0.01"]["std"]
    assert (std[:, 4] < 1e-4).all(), std[:, 4]
    assert (std[:, 4] < 1e-3 * std[:, 0]).all()


def test_relu_xavier_drifts_toward_zero_and_he_keeps_the_spread(result):
    xavier = result.data["configs"]["ReLU, Xavier"]["std"]
    he = result.data["configs"]["ReLU, He"]["std"]
    # ReLU halves the second moment: Xavier's std shrinks by ≈ 1/√2 per layer → ≈ 0.25 at L5
    assert (xavier[:, 4] < 0.5 * xavier[:, 0]).all()
    # He doubles the variance back: the std stays within a factor 1.6 (measured 0.84–1.26)
    ratio = he[:, 4] / he[:, 0]
    assert ((ratio > 1 / 1.6) & (ratio < 1.6)).all(), ratio
    # about half of the ReLU outputs are exactly 0 in every layer
    zero = result.data["configs"]["ReLU, He"]["zero"]
    assert ((zero > 0.35) & (zero < 0.65)).all(), zero


def test_every_histogram_claim_passes_on_every_seed(result):
    claims = evaluate_claims({"activation_histograms": result})
    assert len(claims) == 7
    assert all(len(c.held) == len(SEEDS) for c in claims)
    assert [c.statement for c in claims if not c.passed] == []


def test_same_seed_same_numbers_other_seed_other_numbers(result):
    again = activation_histograms(seeds=[SEEDS[0]])
    for name, d in again.data["configs"].items():
        np.testing.assert_array_equal(d["hist"][0], result.data["configs"][name]["hist"][0])
    d = result.data["configs"]["ReLU, He"]["std"]
    assert d[0, 0] != d[1, 0]


def test_configurations_share_input_and_draws():
    # sigmoid σ=1 and σ=0.01 use the same input and the same N(0, 1) draws, only scaled: in one
    # layer a has the same signs, so as many activations lie above 0.5 (bins 15..29) for both
    one = [{"name": "a", "activation": "sigmoid", "weight_init": 1.0},
           {"name": "b", "activation": "sigmoid", "weight_init": 0.01}]
    r = activation_histograms(one, hidden_layer_size=1, seeds=[7])
    a, b = r.data["configs"]["a"], r.data["configs"]["b"]
    above_a = a["hist"][0, 0, 15:].sum()
    above_b = b["hist"][0, 0, 15:].sum()
    assert above_a == above_b


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seeds": []}, ValueError, "seeds must be a non-empty list"),
        ({"seeds": [0, 0]}, ValueError, "distinct"),
        ({"seeds": [-1]}, ValueError, "seeds"),
        ({"bins": 0}, ValueError, "bins must be a positive int"),
        ({"configs": [{"name": "x", "activation": "softplus", "weight_init": 1.0}]},
         ValueError, "activation'] must be one of"),
        ({"configs": [{"name": "x", "activation": "relu", "weight_init": "lecun"}]},
         ValueError, "scheme must be one of"),
        ({"configs": [{"name": "x", "activation": "relu"}]}, ValueError, "must be a dict with"),
    ],
)
def test_bad_settings_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        activation_histograms(**kwargs)
