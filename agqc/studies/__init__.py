"""The lecture's experiments as library code: what a study measures, apart from running it.

``robustness``: accuracy of classifiers on shifted, rotated, noisy and inverted images, per strength.
``sinusoid``: autoregressive prediction and extrapolation of a trained sequence model.
``control``: how often a conditional generator's samples are recognised as the class it was asked for.
The drivers that train the models and write docs/lecture4.md's figures are in benchmarks/lecture/.
"""
