"""Test-only fault injection, loaded via PYTHONPATH by every process of a study run under test.

With ``GRADFLOW_PAUSE_AT="<seed>:<step>"``, a training job that has just saved the resume
state of that seed at that step touches ``GRADFLOW_PAUSE_MARKER`` and sleeps, so the test
can SIGKILL the whole study at a known point in the middle of training (no race with a
run that takes milliseconds). Nothing here is imported outside the tests.
"""
import os
import sys

if os.environ.get("GRADFLOW_PAUSE_AT") and any("train_and_measure" in arg for arg in sys.argv[:1]):
    import time
    from pathlib import Path

    import analysis.resume

    _seed, _step = (int(x) for x in os.environ["GRADFLOW_PAUSE_AT"].split(":"))
    _save_state = analysis.resume.save_state

    def _save_then_pause(run_dir, spec_dict, state):  # noqa: ANN001, ANN202
        _save_state(run_dir, spec_dict, state)
        if spec_dict["seed"] == _seed and state.step == _step:
            Path(os.environ["GRADFLOW_PAUSE_MARKER"]).touch()
            time.sleep(600)

    analysis.resume.save_state = _save_then_pause
