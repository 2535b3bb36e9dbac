"""Mutation testing of the code that decides the claims (``make mutants``; docs/mutation.md).

mutmut (``[tool.mutmut]`` in pyproject.toml) plants one small bug at a time in a copy of the package (``mutants/``)
and runs the unit tests that call the mutated function. This module names the scope, runs ``mutmut run`` on it and
writes the kill rate, leaving out survivors whose reason is written where they occur (``# equivalent mutant: <why>``
above the line; ``# pragma: no mutate`` where every mutant of a line is equivalent).
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import subprocess
import sys
import time
from collections import Counter
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = str(Path(sys.executable).with_name("mutmut"))  # the one beside this interpreter (.venv-mutants)
# Each claim's decision functions, the statistics they decide with (None: every function of the module) and the
# measures' table glue; what is left out and why: docs/mutation.md.
SCOPE: dict[str, tuple[str, ...] | None] = {
    "analysis/stats/c1.py": ("Rules.__post_init__", "learned_conditions", "tested_conditions", "_family_status",
                             "_status", "_multi_status", "structural_verdict", "family_outcome", "combined_outcome",
                             "finding_verdict"),
    "analysis/stats/c2.py": ("Rules.__post_init__", "_standard_learned", "_deciding_runs", "_cell_verdict", "_reasons",
                             "_claim_verdict"),
    "analysis/stats/c3.py": ("Rules.__post_init__", "verdict"),
    "analysis/stats/c4.py": ("Rules.__post_init__", "Rules.margin", "_beyond_p", "family_tests", "family_verdict",
                             "sweep_conditions", "sweep_verdict_word", "structural_verdict"),
    "analysis/stats/c5.py": ("verdict",),
    "analysis/stats/c6.py": ("Rules.__post_init__", "open_gap", "deciding_conditions", "classify", "decision_table",
                             "verdict"),
    "analysis/stats/inference.py": None,
    "analysis/stats/learning.py": None,
    "analysis/measures/gradient_matrix.py": ("gradient_matrix_table",),
    "analysis/measures/data.py": ("RunData.gradient_matrix",),
    "analysis/measures/run.py": ("measure_checkpoints",),
    "analysis/measures/myopia.py": ("myopia_gap",),
    "analysis/measures/weight_channel.py": ("weight_channel_table", "_rows"),
    "analysis/measures/probes.py": ("select_and_score",),
}
KILLED = {"killed", "timeout", "caught by type check"}  # mutmut's statuses; "no tests" and "survived" are survivors
NOT_RUN = {"skipped", "not checked"}
EQUIVALENT = "equivalent"  # a survivor whose line carries its reason: "# equivalent mutant: <why>" in the comments above


def functions(path: Path) -> list[str]:
    """Top-level functions and methods (``Class.method``) of a module: the units mutmut names its mutants by."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            names += [f"{node.name}.{item.name}" for item in node.body if isinstance(item, ast.FunctionDef)]
    return names


def scope(root: Path = REPO) -> list[str]:
    """mutmut's name globs for SCOPE (``f`` -> ``x_f``, ``Class.m`` -> ``xǁClassǁm``); a name no longer defined stops the run."""
    globs = []
    for path, names in SCOPE.items():
        defined = functions(root / path)
        if missing := set(names or ()) - set(defined):
            raise SystemExit(f"tooling/mutants.py names functions {path} does not define: {sorted(missing)}")
        module = path.removesuffix(".py").replace("/", ".")
        globs += [f"{module}.{'xǁ' + f.replace('.', 'ǁ') if '.' in f else 'x_' + f}__mutmut_*" for f in names or defined]
    return globs


def has_reason(source: str, removed: set[str]) -> bool:
    """Whether a mutated line (``removed``: its original text) has ``# equivalent mutant:`` in the comments just above it."""
    lines = source.splitlines()
    for i in (i for i, line in enumerate(lines) if line in removed):
        while i > 0 and lines[i - 1].lstrip().startswith("#"):
            i -= 1
            if "# equivalent mutant:" in lines[i]:
                return True
    return False


def statuses(root: Path, globs: list[str]) -> dict[str, str]:
    """Status of every mutant in scope, from mutmut's per-file records (``mutants/**/*.py.meta``)."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        source = (root / meta.relative_to(root / "mutants")).with_suffix("").read_text()
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in globs):
                found[name] = status_by_exit_code[code]
                if found[name] == "survived":
                    diff = subprocess.run([MUTMUT, "show", name], cwd=root, capture_output=True, text=True).stdout
                    removed = {line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")}
                    found[name] = EQUIVALENT if has_reason(source, removed) else found[name]
    return found


def summary(status: dict[str, str], seconds: float) -> dict:
    """Kill rate = killed / (run - equivalent), overall and per module; a mutant that no test calls is a survivor."""
    by_module: dict[str, Counter] = {}
    for name, state in status.items():
        by_module.setdefault(name.split(".x")[0], Counter())[state] += 1

    def rate(counts: Counter) -> float | None:
        run = sum(n for state, n in counts.items() if state not in NOT_RUN | {EQUIVALENT})
        return round(sum(n for state, n in counts.items() if state in KILLED) / run, 4) if run else None

    total = sum(by_module.values(), Counter())
    return {"seconds": round(seconds), "kill_rate": rate(total), "counts": dict(total),
            "modules": {m: {"kill_rate": rate(c), "counts": dict(c)} for m, c in sorted(by_module.items())},
            "survivors": sorted(n for n, s in status.items() if s not in KILLED | NOT_RUN | {EQUIVALENT}),
            "equivalent": sorted(n for n, s in status.items() if s == EQUIVALENT)}


@cache
def seconds_by_test() -> dict[str, float]:
    """Each test's duration from mutmut's stats run (``mutants/`` is the working folder); empty before that run."""
    stats = Path("mutmut-stats.json")
    return json.loads(stats.read_text())["duration_by_test"] if stats.exists() else {}


def pytest_collection_modifyitems(items: list) -> None:
    """pytest hook (``-p tooling.mutants``): fastest tests first, so ``-x`` stops at the cheapest one that fails."""
    items.sort(key=lambda item: seconds_by_test().get(item.nodeid, float("inf")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant workers")
    parser.add_argument("--only", nargs="*", help="mutant-name globs instead of the whole scope")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "mutants.json")
    args = parser.parse_args()
    globs, started = args.only or scope(), time.perf_counter()
    run = subprocess.run([MUTMUT, "run", "--max-children", str(args.max_children), *globs], cwd=REPO)
    result = summary(statuses(REPO, globs), time.perf_counter() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for module, entry in result["modules"].items():
        print(f"{module:40s} {entry['kill_rate']}  {entry['counts']}")
    print(f"kill rate {result['kill_rate']} {result['counts']} in {result['seconds']} s; survivors "
          f"(`mutmut show NAME`): {len(result['survivors'])}; {args.out}")
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
