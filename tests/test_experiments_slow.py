"""The lesson's claims with the book's full settings, on three seeds (``pytest -m slow``).

Every experiment of ``dlkit reproduce``, on all cores, on two data sets:

- Fashion-MNIST from Debian's dataset-fashion-mnist: all 60,000 training images where the
  book uses MNIST's (init_compare, init_activations, gradient_flow), the first 1,000 or 300
  where it uses a subset (batchnorm_compare, batchnorm_speed, overfitting);
- the real MNIST test digits in ../shared/data/mnist-t10k: the first 8,000 as training data,
  the last 2,000 held out.

The claims behind the book's four figures hold on every seed. The slides' further claims are
checked here through the numbers behind them, each with a margin: which way they come out
does not hang on a threshold. Several minutes each on two cores.
"""

import math

import numpy as np
import pytest

from dlkit.experiments.claims import evaluate_claims, final_loss
from dlkit.experiments.init_activations import SIGMOID_LR
from dlkit.experiments.parallel import default_jobs
from dlkit.experiments.reproduce import run_all

pytestmark = pytest.mark.slow

SEEDS = [0, 1, 2]
BOOK_FIGURES = {"symmetry", "activation_histograms", "init_compare", "batchnorm_compare"}


@pytest.fixture(scope="module")
def book(fashion_mnist_dir):
    from dlkit.experiments.reproduce import load_data

    results, _ = run_all(load_data("fashion-mnist", download=False), seeds=SEEDS,
                         dataset="fashion-mnist", jobs=default_jobs())
    return results


@pytest.fixture(scope="module")
def book_mnist(mnist_t10k_dir):
    from dlkit.data import read_idx

    x = read_idx(mnist_t10k_dir / "t10k-images-idx3-ubyte.gz").reshape(10_000, 784) / 255.0
    t = read_idx(mnist_t10k_dir / "t10k-labels-idx1-ubyte.gz").astype(np.intp)
    results, _ = run_all((x[:8000], t[:8000], x[8000:], t[8000:]), seeds=SEEDS,
                         dataset="mnist t10k", jobs=default_jobs())
    return results


@pytest.fixture(params=["fashion-mnist", "mnist t10k"])
def both(request):
    return request.getfixturevalue("book" if request.param == "fashion-mnist" else "book_mnist")


def test_every_claim_of_the_books_figures_holds_on_every_seed(book):
    claims = evaluate_claims(book)
    assert len(claims) == 37 and sum(c.source == "lesson" for c in claims) == 28
    figures = [c for c in claims if c.experiment in BOOK_FIGURES and c.source == "lesson"
               and "learns faster at the book's" not in c.statement]
    assert len(figures) == 16
    assert [(c.statement, c.evidence) for c in figures if not c.passed] == []


def test_init_compare_book_settings(book):
    s = book["init_compare"].data["schemes"]
    small, xavier, he = (final_loss(s[k]["loss"]) for k in ("std=0.01", "Xavier", "He"))
    # σ=0.01 never leaves chance level in 2000 steps (measured 2.3025 ± 0.0002)
    assert (np.abs(small - math.log(10)) < 0.05).all(), small
    # He lowest, Xavier close behind (measured He ≈ 0.44, Xavier ≈ 0.51 on seed 0)
    assert (he < xavier).all() and (xavier - he < 0.25).all(), (he, xavier)
    # both generalise: > 75% test accuracy (He ≈ 0.81, Xavier ≈ 0.78); σ=0.01 is at chance
    assert (s["He"]["test_acc"] > 0.75).all() and (s["Xavier"]["test_acc"] > 0.75).all()
    assert (s["std=0.01"]["test_acc"] < 0.15).all()


def test_batchnorm_book_settings(book):
    r = book["batchnorm_compare"]
    bn = r.data["batchnorm"]["train_acc"][:, :, -1]
    plain = r.data["plain"]["train_acc"][:, :, -1]
    assert bn.shape == (len(SEEDS), 16)
    # BN ends higher for most of the 16 scales (measured 13–14 of 16 on seed 0)
    assert ((bn > plain).sum(axis=1) > 8).all(), (bn, plain)
    # without BN the 9 smallest scales (≤ 0.025) stay at chance; with BN most of them learn
    assert (plain[:, 7:] < 0.2).all()
    assert ((bn[:, 7:] > 0.5).sum(axis=1) >= 5).all(), bn
    # weight scale 1.0 without BN: the activations explode, it learns nothing (chance)
    assert (plain[:, 0] < 0.2).all()


def _claim(results, text):
    found = [c for c in evaluate_claims(results) if text in c.statement]
    assert len(found) == 1, text
    return found[0]


def test_gradients_at_the_books_settings(both):
    c = both["gradient_flow"].data["configs"]

    def first_over_last(name, when=0):  # RMS ∂L/∂z, hidden layer 1 / hidden layer 5
        g = c[name]["act_grad"][:, when]
        return g[:, 0] / g[:, -1]

    # sigmoid σ=1 does not shrink the gradient passed back (measured 0.9–1.13): FAIL, and
    # far from the threshold 1/10
    assert ((first_over_last("sigmoid, σ=1") > 0.5) & (first_over_last("sigmoid, σ=1") < 2)).all()
    assert not _claim(both, "gradient passed back, RMS ∂L/∂z").passed
    # nor the weight gradients of the hidden layers: hidden layer 2 / hidden layer 5 measured
    # 0.28–0.46, far above 1/10 (layer 1's, 1/10 of layer 5's, is set by its pixel inputs)
    w = c["sigmoid, σ=1"]["weight_grad"][:, 0]
    assert (w[:, 1] / w[:, 4] > 0.2).all(), w
    assert not _claim(both, "the weight gradients vanish toward the input").passed
    # Xavier's does shrink it, by ~1/4 a layer (measured 0.0032–0.0033)
    assert (first_over_last("sigmoid, Xavier") < 0.01).all()
    assert _claim(both, "vanishes from Xavier's initial weights").passed
    assert not _claim(both, "sigmoid, Xavier: Xavier's").passed
    # with tanh, where Xavier's derivation holds, the scale is kept (measured 1.02–1.37)
    g = c["tanh, Xavier"]["act_grad"][:, 0]
    assert (g.max(axis=1) / g.min(axis=1) < 1.6).all(), g
    assert _claim(both, "tanh, Xavier: Xavier's").passed
    # ReLU σ=0.01: weight gradients ~1e-6–1e-4 of He's, before and after 200 steps
    for when in (0, 1):
        ratio = c["ReLU, σ=0.01"]["weight_grad"][:, when] / c["ReLU, He"]["weight_grad"][:, when]
        assert (ratio < 1e-3).all(), ratio
    # He's weights keep ReLU's: within a factor 1.6 over the hidden layers (1.01–1.10)
    g = c["ReLU, He"]["act_grad"][:, 0]
    assert (g.max(axis=1) / g.min(axis=1) < 1.6).all(), g


def test_xavier_or_he_per_activation(both):
    r = both["init_activations"]
    rows = r.data["activations"]
    assert r.settings["lr"] == {"sigmoid": SIGMOID_LR, "relu": 0.01}
    sigmoid = {k: final_loss(d["loss"]) for k, d in rows["sigmoid"].items()}
    relu = {k: final_loss(d["loss"]) for k, d in rows["relu"].items()}
    # at the calibrated rate every sigmoid network leaves chance level, Xavier's and He's far
    # below it (std 0.01: 0.59–1.34; Xavier, He: 0.01–0.60) ...
    for label, v in sigmoid.items():
        assert (v < math.log(10) - (0.5 if label == "std=0.01" else 1)).all(), (label, v)
    # ... and He's ends lower than Xavier's on every seed (Fashion-MNIST 0.03–0.12 lower):
    # "Xavier suits sigmoid" does not hold
    assert (sigmoid["He"] < sigmoid["Xavier"]).all(), sigmoid
    assert not _claim(both, "Xavier suits sigmoid").passed
    assert (relu["He"] < relu["Xavier"] - 0.02).all(), relu
    assert _claim(both, "He suits ReLU").passed
    for label, d in both["init_compare"].data["schemes"].items():  # the same runs
        assert np.array_equal(rows["relu"][label]["loss"], d["loss"])


def test_batchnorm_speed_and_learning_rates(both):
    r = both["batchnorm_speed"]
    lrs = list(r.data["lrs"])
    bn, plain = r.data["batchnorm"]["steps_to_target"], r.data["plain"]["steps_to_target"]
    # at lr 0.01 BN reaches 80% within 100 steps; without BN it takes at least 1.5× as long
    j = lrs.index(0.01)
    assert (bn[:, j] <= 100).all() and (plain[:, j] >= 1.5 * bn[:, j]).all(), (bn, plain)
    # at lr 1 the network without BN does not get there (it diverges); with BN it does
    k = lrs.index(1.0)
    assert np.isinf(plain[:, k]).all() and np.isfinite(bn[:, k]).all(), (bn, plain)
    assert _claim(both, "tolerates larger").passed
    assert "no small step holds BN back" in _claim(both, "At SGD lr 0.01").note


def test_batchnorm_is_slower_where_its_effective_step_is_small(both):
    # the plain network reaches 80% only from large scales, where BN's effective step is
    # small: BN is slower there ...
    assert not _claim(both, "learns faster at the book's").passed
    # ... its effective step falls as ~1/σ (slope measured −0.93 to −0.95) ...
    falls = _claim(both, "a larger initial scale takes smaller steps")
    assert falls.passed and (falls.numbers["slope"] < -0.7).all(), falls.evidence
    # ... and at every scale where it is the slower one, its step is the smaller (6–190×)
    assert _claim(both, "Where BatchNorm is the slower one").passed


def test_overfitting_at_the_books_setting(both):
    c = both["overfitting"].data["configs"]
    gap = {k: d["train_acc"][:, -1] - d["final_test_acc"] for k, d in c.items()}
    train = {k: d["train_acc"][:, -1] for k, d in c.items()}
    # with BN from either scale and without BN from He's the 300 samples are learned ...
    for label in ("He, BatchNorm", "σ=0.01, BatchNorm", "He"):
        assert (train[label] >= 0.99).all(), (label, train[label])
    # ... and BN's gap from He's weights is the larger, by at least 0.05 (0.08–0.25)
    assert (gap["He, BatchNorm"] > gap["He"] + 0.05).all(), gap
    assert not _claim(both, "suppresses overfitting, from He's").passed
    # from σ = 0.01, BN's gap is within 0.05 of the plain network's: not smaller by a margin
    assert (np.abs(gap["σ=0.01, BatchNorm"] - gap["He"]) < 0.05).all(), gap
    assert not _claim(both, "suppresses overfitting, from σ = 0.01").passed
    # weight decay shrinks the gap by more than the margin (0.04–0.16) ...
    assert (gap["He, weight decay 0.1"] < gap["He"] - 0.03).all(), gap
    assert _claim(both, "Weight decay (λ = 0.1").passed
    # ... with a lower test accuracy
    assert not _claim(both, "with weight decay (λ = 0.1) the test").passed
    # from σ=0.01 nothing is learned: not counted among the small weights
    assert (train["σ=0.01"] < 0.2).all() and (gap["σ=0.01"] < 0.05).all()
    assert "did not learn on any seed: σ=0.01" in _claim(both, "Small weights make").evidence
    assert not _claim(both, "generalize at least as well").passed
