"""The tooling around the study, not the science: it imports ``analysis`` and ``analysis`` never imports it.

Packing and verifying results (``manifest``, ``archive``, ``verify``, ``tolerances``), the
benchmarks (``benchmark``, ``bench_pipeline``, ``bench_estimate``), the prepared GPU check
(``gpu_check``), the generated blocks of README.md and docs/ (``doc_blocks``, spliced in by
``readme``) and mutation testing (``mutants``).
"""
