"""Mutation testing of the code that decides the claims (``make mutants``; docs/mutation.md).

mutmut (settings: ``[tool.mutmut]`` in pyproject.toml) plants one small bug at a time in a copy of the package
(``mutants/``; the working tree is never modified) and runs the unit tests that call the mutated function. This
module only names the scope as mutmut's mutant-name globs, runs ``mutmut run`` on them and writes the kill rate.
Equivalent mutants are not listed here: ``# pragma: no mutate`` on their line, with the reason, keeps them out.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The claims' rules: every function of these modules except those that only write paper text or build a table no
# verdict reads (NOT_DECIDING).
CLAIMS = "analysis/stats/c[1-6].py"
NOT_DECIDING = {
    "c1": ("_enrichment_text", "_multi_source_text", "_p", "_ci", "multi_source_numbers", "validation_numbers",
           "paper_numbers", "validation_table"),
    "c2": ("rule_text", "_interval_text", "_pct_text", "_regime_numbers", "_along_numbers", "_power_numbers",
           "_text_numbers", "_numbers", "_probe_and_share_numbers", "arms_table", "text_gap_table", "probe_table",
           "share_table"),
    "c3": ("_span", "paper_numbers"),
    "c4": ("condition_label", "_deciding", "sweep_deciding", "_condition_rows", "exponents_by_encoding",
           "height_numbers", "sweep_numbers", "effective_context_numbers", "information_numbers", "_rule_texts",
           "slope_summary", "with_within_row", "dependency_height", "context_distance_summary", "effective_context",
           "sweep_summary"),
    "c5": ("paper_numbers",),
    "c6": ("pct", "bits", "in_bits", "_sig", "fmt_factor", "edge_note", "_ci", "_label", "condition_rows",
           "paper_numbers", "figure_table"),
}
# The statistics the rules decide with, the deciding numbers of C2 and C4 outside their modules, and the measures'
# table glue: what turns gradients into table rows (their numerical cores have reference tests).
WHOLE = ("analysis/stats/inference.py", "analysis/stats/learning.py")
FUNCTIONS = {
    "analysis/stats/precaching.py": ("drift", "plateau_table", "paired_gaps", "with_factors"),
    "analysis/stats/distance.py": ("below_last_layer", "fit_cells", "decompose", "_decompose_run"),
    "analysis/measures/gradient_matrix.py": ("gradient_matrix_table",),
    "analysis/measures/data.py": ("RunData.gradient_matrix",),
    "analysis/measures/run.py": ("measure_checkpoints",),
    "analysis/measures/myopia.py": ("myopia_gap",),
    "analysis/measures/weight_channel.py": ("weight_channel_table", "_rows", "bracket_maximum", "draw_positions",
                                            "shuffle_before"),
    "analysis/measures/probes.py": ("select_and_score",),
}
KILLED = {"killed", "timeout", "caught by type check"}  # mutmut's statuses; "no tests" and "survived" are survivors
NOT_RUN = {"skipped", "not checked"}


def functions(path: Path) -> list[str]:
    """Top-level functions and methods (``Class.method``) of a module: the units mutmut names its mutants by."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            names += [f"{node.name}.{item.name}" for item in node.body if isinstance(item, ast.FunctionDef)]
    return names


def glob(path: str, function: str) -> str:
    """mutmut's name glob for a function's mutants (``f`` -> ``x_f``, ``Class.m`` -> ``xǁClassǁm``)."""
    mangled = "xǁ" + function.replace(".", "ǁ") if "." in function else f"x_{function}"
    return f"{path.removesuffix('.py').replace('/', '.')}.{mangled}__mutmut_*"


def scope(root: Path = REPO) -> list[str]:
    """The mutant-name globs of the scope (see the constants above)."""
    chosen = {str(p.relative_to(root)): [f for f in functions(p) if f not in NOT_DECIDING.get(p.stem, ())]
              for p in sorted(root.glob(CLAIMS))}
    chosen.update({path: functions(root / path) for path in WHOLE})
    for path, names in FUNCTIONS.items():
        missing = set(names) - set(functions(root / path))
        if missing:
            raise SystemExit(f"tooling/mutants.py names functions {path} does not define: {sorted(missing)}")
        chosen[path] = list(names)
    return [glob(path, name) for path, names in chosen.items() for name in names]


def statuses(root: Path, globs: list[str]) -> dict[str, str]:
    """Status of every mutant in scope, from mutmut's per-file records (``mutants/**/*.py.meta``)."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in globs):
                found[name] = status_by_exit_code[code]
    return found


def summary(status: dict[str, str], seconds: float) -> dict:
    """Kill rate = killed / run, overall and per module; a mutant that no test calls counts as a survivor."""
    by_module: dict[str, Counter] = {}
    for name, state in status.items():
        by_module.setdefault(name.split(".x")[0], Counter())[state] += 1

    def rate(counts: Counter) -> float | None:
        run = sum(n for state, n in counts.items() if state not in NOT_RUN)
        return round(sum(n for state, n in counts.items() if state in KILLED) / run, 4) if run else None

    total = sum(by_module.values(), Counter())
    return {"seconds": round(seconds), "kill_rate": rate(total), "counts": dict(total),
            "modules": {m: {"kill_rate": rate(c), "counts": dict(c)} for m, c in sorted(by_module.items())},
            "survivors": sorted(n for n, s in status.items() if s not in KILLED | NOT_RUN)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant workers")
    parser.add_argument("--only", nargs="*", help="mutant-name globs instead of the whole scope")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "mutants.json")
    args = parser.parse_args()
    globs = args.only or scope()
    started = time.perf_counter()
    mutmut = Path(sys.executable).with_name("mutmut")
    run = subprocess.run([str(mutmut), "run", "--max-children", str(args.max_children), *globs], cwd=REPO)
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
