"""The lesson's experiments (Deep Learning from Scratch, 6.2–6.3), one module each.

==================================================  =============================================
``symmetry.symmetry``                               zero / constant vs random initial weights:
                                                    do the hidden units stay identical?
``histograms.activation_histograms``                5 layers' activations for 7 weight scales
``gradient_flow.gradient_flow``                     the gradients of every layer for the book's 6
                                                    of them: do they vanish?
``init_compare.init_compare``                       784-100×4-10 ReLU from std 0.01, Xavier, He
``init_activations.init_activations``               the same with sigmoid and with ReLU
``batchnorm_compare.batchnorm_compare``             with vs without BatchNorm, 16 weight scales
``batchnorm_speed.batchnorm_speed``                 with vs without BatchNorm, a learning-rate
                                                    sweep: steps to a target accuracy
``overfitting.overfitting``                         300 samples, 200 epochs: with vs without BN,
                                                    and from small initial weights
==================================================  =============================================

Each returns a :class:`dlkit.experiments.results.Result` (plain data, saved as JSON), and
each module's ``plan(...)`` gives the same experiment as independent runs
(:mod:`dlkit.experiments.runs`), which ``dlkit reproduce`` runs on every core
(:mod:`dlkit.experiments.parallel`);
:mod:`dlkit.plots` draws it, :func:`dlkit.experiments.claims.evaluate_claims` checks the
lesson's claims on it, and :mod:`dlkit.experiments.reproduce` runs them all (``dlkit
reproduce``). Experiments never print or draw. Import from the modules, e.g.
``from dlkit.experiments.init_compare import init_compare``; this package itself imports
nothing, so that ``dlkit --help`` does not load Numba.
"""

#: the experiments' names, in the lesson's order (the keys of ``reproduce.EXPERIMENTS``)
NAMES = ("symmetry", "activation_histograms", "gradient_flow", "init_compare",
         "init_activations", "batchnorm_compare", "batchnorm_speed", "overfitting")
