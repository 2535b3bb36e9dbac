"""The mutation-testing report (tooling/mutants.py): mutant names read back to functions, equivalents matched by
their change, the kill rate, and the list of equivalent mutants naming functions that exist."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter

from tooling import mutants

DIFF = """--- analysis/stats/c5.py
+++ analysis/stats/c5.py
@@ -1,4 +1,4 @@
 def decide(inputs, rules):
-    table = last_layer_table(inputs.tables.get("m1", pd.DataFrame()), inputs.runs)
+    table = last_layer_table(inputs.tables.get("m1", None), inputs.runs)
     check = verdict(table, rules)
"""


def test_mutant_names_read_back_to_functions_private_functions_and_methods():
    assert mutants.function_of("analysis.stats.c1.x_decide__mutmut_12") == "analysis.stats.c1.decide"
    assert mutants.function_of("analysis.stats.sinks.x__stage_numbers__mutmut_3") == "analysis.stats.sinks._stage_numbers"
    assert mutants.function_of("analysis.measures.data.xǁRunDataǁgradient_matrix__mutmut_1") == (
        "analysis.measures.data.RunData.gradient_matrix"
    )
    assert mutants.mangled("RunData.gradient_matrix") == "xǁRunDataǁgradient_matrix"
    assert mutants.mangled("_pair_rows") == "x__pair_rows"


def test_an_equivalent_is_matched_by_function_and_changed_lines_only():
    assert mutants.changed_lines(DIFF) == [
        '-table = last_layer_table(inputs.tables.get("m1", pd.DataFrame()), inputs.runs)',
        '+table = last_layer_table(inputs.tables.get("m1", None), inputs.runs)',
    ]
    entry = {"function": "analysis.stats.c5.decide", "change": mutants.changed_lines(DIFF), "reason": "why"}
    assert mutants.equivalent_reason("analysis.stats.c5.decide", DIFF, [entry]) == "why"
    assert mutants.equivalent_reason("analysis.stats.c5.verdict", DIFF, [entry]) is None
    other = {**entry, "change": ['-table = 1', '+table = 2']}
    assert mutants.equivalent_reason("analysis.stats.c5.decide", DIFF, [other]) is None


def test_kill_rate_counts_untested_mutants_as_survivors_and_leaves_out_those_not_run():
    counts = Counter({"killed": 6, "timeout": 1, "survived": 2, "no tests": 1, "skipped": 5, "not checked": 3})
    assert mutants.kill_rate(counts) == 7 / 10
    assert mutants.kill_rate(Counter({"skipped": 2})) is None


def test_listed_equivalents_left_out_of_a_run_count_as_the_survivors_they_were():
    status = {"m.x_f__mutmut_1": "skipped", "m.x_f__mutmut_2": "skipped", "m.x_f__mutmut_3": "killed"}
    marked = mutants.with_listed_not_run(status, ["m.x_f__mutmut_1", "m.x_f__mutmut_3"])
    assert marked == {"m.x_f__mutmut_1": mutants.LISTED_NOT_RUN, "m.x_f__mutmut_2": "skipped",
                      "m.x_f__mutmut_3": "killed"}
    assert mutants.kill_rate(Counter(marked.values())) == 1 / 2


GENERATED = """def x_f__mutmut_orig(a):
    return a + 1

def x_f__mutmut_1(a):
    return a - 1

def x_f__mutmut_2(a):
    def inner(b):
        return b
    return (
        a + 2
    )

x_f__mutmut_mutants = {}
class C:
    def xǁCǁg__mutmut_orig(self):
        return self.b

    def xǁCǁg__mutmut_1(self):
        return None
    def other(self):
        return 0
"""


def test_each_generated_mutant_reads_back_as_the_lines_of_its_own_function(tmp_path):
    (tmp_path / "mutants" / "m").mkdir(parents=True)
    (tmp_path / "mutants" / "m" / "k.py").write_text(GENERATED)
    assert mutants.mutant_sources(tmp_path, "m.k") == {
        "m.k.x_f__mutmut_1": {"def x_f__mutmut_1(a):", "return a - 1", ""},
        "m.k.x_f__mutmut_2": {"def x_f__mutmut_2(a):", "def inner(b):", "return b", "return (", "a + 2", ")", ""},
        "m.k.xǁCǁg__mutmut_1": {"def xǁCǁg__mutmut_1(self):", "return None"},
    }


def test_the_decorator_moves_below_the_function_keeping_its_behaviour():
    source = "@torch.no_grad()\ndef f(x):\n    return x\n\n\ndef g():\n    pass\n"
    assert mutants.undecorate(source) == (
        "def f(x):\n    return x\n\n\nf = torch.no_grad()(f)\ndef g():\n    pass\n"
    )


def test_the_tests_run_against_mutants_name_the_mutated_packages_and_need_no_tooling(tmp_path):
    (tmp_path / "test_a.py").write_text("from analysis.stats import c1\n")
    (tmp_path / "test_b.py").write_text("import torch\n\nfrom analysis.measures.run import measure_run\n")
    (tmp_path / "test_c.py").write_text("from analysis.config import load_study\n")  # validation imports analysis.stats
    (tmp_path / "test_d.py").write_text("from tooling import mutants\n\nNAME = 'analysis.stats.c1'\n")
    (tmp_path / "test_e.py").write_text("import torch\n")
    (tmp_path / "helper.py").write_text("from analysis.stats import c1\n")
    assert [path.name for path in mutants.selected_tests(tmp_path)] == ["test_a.py", "test_b.py"]


def test_the_conftest_plugin_runs_known_killers_then_the_fastest_test_first_beside_the_conftests_own_hooks(tmp_path):
    """mutmut stops a mutant at its first failing test: tests that killed a mutant of the same function come first,
    the others in the order of the recorded durations, and the conftest's own marking (here: a test marked
    `workflow`, then deselected) still applies."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n    for item in items:\n"
        "        if item.name == 'test_marked':\n            item.add_marker(pytest.mark.workflow)\n"
        + mutants.CONFTEST_PLUGIN
    )
    (tmp_path / "test_order.py").write_text(
        "import os\n\n\n" + "".join(f"def test_{name}():\n    assert '{name}' not in os.environ.get('FAIL', '')\n\n\n"
                                    for name in ("slow", "fast", "marked", "middle")))
    durations = {"slow": 3.0, "fast": 0.1, "marked": 0.0, "middle": 1.0}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps(
        {"duration_by_test": {f"test_order.py::test_{name}": seconds for name, seconds in durations.items()}}))

    def order(mutant: str = "", fail: str = "") -> list[str]:
        run = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", "not workflow",
                              "-W", "ignore::pytest.PytestUnknownMarkWarning", "test_order.py"],
                             cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "MUTANT_UNDER_TEST": mutant, "FAIL": fail})
        assert run.returncode == (1 if fail else 0), run.stdout
        return [line.split("::")[1].split()[0] for line in run.stdout.splitlines() if line.startswith("test_order.py::")]

    assert order() == ["test_fast", "test_middle", "test_slow"]
    assert order("analysis.stats.c1.x_f__mutmut_1", fail="slow,middle") == ["test_fast", "test_middle", "test_slow"]
    killers = tmp_path / mutants.KILLERS_DIR / "analysis.stats.c1.x_f"
    assert killers.read_text().splitlines() == ["test_order.py::test_middle", "test_order.py::test_slow"]
    assert order("analysis.stats.c1.x_f__mutmut_2") == ["test_middle", "test_slow", "test_fast"]  # a sibling
    assert order("analysis.stats.c1.x_g__mutmut_1") == ["test_fast", "test_middle", "test_slow"]  # another function
    assert order("stats") == ["test_fast", "test_middle", "test_slow"]  # mutmut's own runs record nothing
    assert sorted(path.name for path in killers.parent.iterdir()) == ["analysis.stats.c1.x_f"]
    (tmp_path / mutants.EQUIVALENT_FILE).write_text("analysis.stats.c1.x_f__mutmut_3\n")  # a listed equivalent
    listed = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_order.py"],
                            cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "MUTANT_UNDER_TEST": "analysis.stats.c1.x_f__mutmut_3", "FAIL": "fast"})
    assert listed.returncode == mutants.SKIPPED and "test_order.py::" not in listed.stdout  # mutmut: "skipped"
    assert order("analysis.stats.c1.x_f__mutmut_4") == ["test_middle", "test_slow", "test_fast"]  # not listed: runs
    (tmp_path / "mutmut-stats.json").unlink()  # mutmut's stats run: the file order
    assert order() == ["test_slow", "test_fast", "test_middle"]


def test_every_listed_equivalent_names_an_existing_function_and_one_change():
    for entry in json.loads(mutants.EQUIVALENTS.read_text()):
        parts = entry["function"].split(".")
        split = next(i for i in range(len(parts) - 1, 0, -1) if importlib.util.find_spec(".".join(parts[:i])))
        target = importlib.import_module(".".join(parts[:split]))
        for name in parts[split:]:
            target = getattr(target, name)  # AttributeError: the entry names no function
        assert callable(target), entry["function"]
        assert {line[0] for line in entry["change"]} <= {"-", "+"} and entry["change"], entry
        assert entry["reason"].strip(), entry
