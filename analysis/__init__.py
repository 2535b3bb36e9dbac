"""Gradient flow across context positions in causal transformers: the study's package.

Sub-packages and modules, lowest layer first (a module imports only from its own layer or lower ones; no cycle:
tests/unit/test_package_boundaries.py): ``spec`` (a run as a plain value) and the other ground-floor modules;
``regimes`` (how the loss at t may reach earlier positions) and ``tasks`` (data); ``models`` (GPT + positional
encodings); ``training``; ``measures`` (gradient-flow statistics M1-M9); ``stats`` (the claims, seed-level
inference, descriptive analyses); ``config`` (validates a study against all of them); the jobs that put them
together (``block``, ``stats.stages``, ``card``). The package opens no path outside its own folder.
"""
