"""The lesson's experiments (Deep Learning from Scratch, 6.2–6.3), one module each.

==================================================  =============================================
``symmetry.symmetry``                               zero / constant vs random initial weights:
                                                    do the hidden units stay identical?
``histograms.activation_histograms``                5 layers' activations for 7 weight scales
``init_compare.init_compare``                       784-100×4-10 ReLU from std 0.01, Xavier, He
``batchnorm_compare.batchnorm_compare``             with vs without BatchNorm, 16 weight scales
==================================================  =============================================

Each returns a :class:`dlkit.experiments.results.Result` (plain data, saved as JSON);
:mod:`dlkit.plots` draws it, :func:`dlkit.experiments.claims.evaluate_claims` checks the
lesson's claims on it, and :mod:`dlkit.experiments.reproduce` runs them all (``dlkit
reproduce``). Experiments never print or draw. Import from the modules, e.g.
``from dlkit.experiments.init_compare import init_compare``; this package itself imports
nothing, so that ``dlkit --help`` does not load Numba.
"""
