"""Gradient flow across context positions in causal transformers: the study's package.

Sub-packages: ``models`` (GPT + positional encodings), ``tasks`` (data), ``regimes``
(how the loss at t may reach earlier positions), ``training``, ``measures``
(gradient-flow statistics M1-M7) and ``stats`` (seed-level inference).
"""
