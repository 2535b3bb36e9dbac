"""Mutation testing of the layer that turns gradients into conclusions (``make mutants``; docs/mutation.md).

mutmut plants one small bug at a time (a flipped comparison, a changed constant, a dropped
argument) in the statistics (``analysis/stats/``) and in the functions that turn measured
tensors into result tables, and runs the fast unit tests against each. A mutant no test
notices ("survived") marks a place where a wrong number or verdict would go unseen.

The run happens in a scratch copy (``results/mutants/work``) so the working tree is never
touched; the report (``results/mutants/report.json`` and ``report.txt``) gives the kill rate
per module and overall and every survivor with its diff, marked equivalent where
``tooling/mutants_equivalent.json`` says why no test can tell it from the original.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What is mutated: every function of these modules ...
WHOLE_MODULES = ("analysis/stats/*.py",)
# ... and the table-building functions of the measures (their numerical cores have references of their own).
TABLE_FUNCTIONS = {
    "analysis/measures/gradient_matrix.py": ("gradient_matrix_table",),
    "analysis/measures/data.py": ("RunData.gradient_matrix",),
    "analysis/measures/run.py": ("measure_checkpoints",),
    "analysis/measures/myopia.py": ("position_loss_table", "myopia_gap"),
    "analysis/measures/weight_channel.py": (
        "weight_channel_table", "_rows", "bracket_maximum", "draw_positions", "shuffle_before", "context_channel_table",
    ),
    "analysis/measures/probes.py": ("probe_table", "select_and_score"),
}
# The test files copied: those that import the mutated packages. Their workflow tests (marker ``workflow``,
# tests/conftest.py) are left out by ``-m "not workflow"`` in pyproject.toml's ``pytest_add_cli_args``.
TESTED_IMPORTS = ("analysis.stats", "analysis.measures")
# ... except those importing this package, which the scratch copy does not hold.
TOOLING_IMPORT = re.compile(r"^\s*(from|import)\s+tooling\b", re.MULTILINE)
KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"skipped", "not checked"}
LISTED_NOT_RUN = "listed equivalent, not run"
EQUIVALENTS = Path(__file__).with_name("mutants_equivalent.json")
# Files outside the package that selected tests read: the config profiles (``analysis.config``)
# and the figure scripts (a test draws a figure from a planted table).
DATA_DIRS = ("config", "figures")
# mutmut leaves decorated functions alone; these decorators are moved below the function in the copy.
MOVABLE_DECORATOR = re.compile(r"^@torch\.no_grad\(\)\s*$")
# Appended to the copy's tests/conftest.py, as a plugin so that it adds to the conftest's own hooks, never replaces them.
# - gc.freeze: mutmut runs pytest once per mutant in a process forked from a server that has imported torch, pandas
#   and every test module; pytest ends each run with a full gc.collect() (its unraisable-exception check), which
#   walks that whole heap (about 0.25 s a mutant, more than most tests take) and touches every page the fork
#   shared. Freezing the heap once collection has imported everything leaves the server's objects out of every
#   later collection (https://docs.python.org/3/library/gc.html#gc.freeze).
# - Known killers first, then fastest first: mutmut runs a mutant's tests with -x (stop at the first failure), but
#   its fork server passes them in set order, so a mutant the fastest test kills could wait for a 3 s test first.
#   The tests are sorted by the durations of mutmut's stats run (read once, in the fork server's warm-up), and
#   before them come the tests that already killed a sibling mutant (the same function): mutants of one function
#   run one after another (mutmut orders them by their tests' estimated time), and a bug planted near another is
#   mostly caught by the same test. Each fork that sees a test fail appends its id to a file per function under
#   KILLERS_DIR. The order decides only how soon a mutant is killed, never whether: -x stops at the first failure
#   of the same set of tests.
# - Listed equivalents left out: a mutant tooling/mutants_equivalent.json lists survived every test when it was listed,
#   and the report would mark it equivalent whatever it did now; its name is in EQUIVALENT_FILE (written before
#   mutmut starts, read once in the fork server's warm-up) and its fork exits with mutmut's code for "skipped"
#   before collecting anything. ``--all`` runs them too.
KILLERS_DIR = ".mutmut-killers"
EQUIVALENT_FILE = ".mutmut-equivalent"
SKIPPED = 34  # mutmut's exit code for "skipped"
CONFTEST_PLUGIN = f"""

class _MutationRun:  # added by tooling/mutants.py (see CONFTEST_PLUGIN there)
    durations = None  # test id -> seconds in mutmut's stats run; None until mutmut-stats.json exists
    equivalent = None  # names of the listed equivalent mutants this run leaves out

    def __init__(self):
        import os
        import pathlib

        self.mutant = os.environ.get("MUTANT_UNDER_TEST", "")
        function = self.mutant.rpartition("__mutmut_")[0]
        self.killers = pathlib.Path("{KILLERS_DIR}") / function if function else None

    def pytest_sessionstart(self, session):
        import pathlib

        import pytest

        if _MutationRun.equivalent is None:
            listed = pathlib.Path("{EQUIVALENT_FILE}")
            _MutationRun.equivalent = set(listed.read_text().splitlines()) if listed.exists() else set()
        if self.mutant in _MutationRun.equivalent:
            pytest.exit("listed as equivalent in tooling/mutants_equivalent.json", returncode={SKIPPED})

    def pytest_collection_modifyitems(self, items):
        import json
        import pathlib

        stats = pathlib.Path("mutmut-stats.json")
        if _MutationRun.durations is None and stats.exists():
            _MutationRun.durations = json.loads(stats.read_text())["duration_by_test"]
        durations = _MutationRun.durations or {{}}
        killers = set()
        if self.killers is not None and self.killers.exists():
            killers = set(self.killers.read_text().splitlines())
        items.sort(key=lambda item: (item.nodeid not in killers, durations.get(item.nodeid, 0.0)))

    def pytest_runtest_logreport(self, report):
        if report.failed and self.killers is not None:
            self.killers.parent.mkdir(exist_ok=True)
            with self.killers.open("a") as handle:  # one short append per failure: whole lines even from two forks
                handle.write(report.nodeid + "\\n")

    def pytest_collection_finish(self, session):
        import gc

        gc.freeze()


def pytest_configure(config):
    config.pluginmanager.register(_MutationRun())
"""


def mutated_files(root: Path) -> list[str]:
    """Paths (relative to ``root``) of the modules mutated, whole or in part."""
    whole = sorted(str(p.relative_to(root)) for pattern in WHOLE_MODULES for p in root.glob(pattern))
    return whole + [path for path in TABLE_FUNCTIONS if (root / path).exists()]


def mutant_patterns(root: Path) -> list[str]:
    """mutmut mutant-name globs: all of each whole module, the named functions of the others."""
    patterns = [module_name(path) + ".*" for path in mutated_files(root) if path not in TABLE_FUNCTIONS]
    for path, functions in TABLE_FUNCTIONS.items():
        if (root / path).exists():
            patterns += [f"{module_name(path)}.{mangled(name)}__mutmut_*" for name in functions]
    return patterns


def mangled(function: str) -> str:
    """mutmut's name for a function (``f`` -> ``x_f``) or method (``Class.m`` -> ``xǁClassǁm``)."""
    return "xǁ" + function.replace(".", "ǁ") if "." in function else f"x_{function}"


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def selected_tests(tests: Path) -> list[Path]:
    """Test files importing the mutated packages (mutmut runs only their unit tests)."""
    selected = []
    for path in sorted(tests.glob("test_*.py")):
        text = path.read_text()
        if any(name in text for name in TESTED_IMPORTS) and not TOOLING_IMPORT.search(text):
            selected.append(path)
    return selected


def undecorate(source: str) -> str:
    """Move ``@torch.no_grad()`` from a top-level def to a rebinding after its body (same behaviour, mutable)."""
    lines, out = source.splitlines(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        if MOVABLE_DECORATOR.match(line) and i + 1 < len(lines) and lines[i + 1].startswith("def "):
            name = lines[i + 1][4:].split("(")[0]
            out.append(lines[i + 1])
            i += 2
            while i < len(lines) and (not lines[i] or lines[i][0] in " \t)#"):
                out.append(lines[i])
                i += 1
            out.append(f"{name} = torch.no_grad()({name})")
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def copy_tree(source: Path, work: Path) -> list[str]:
    """Scratch copy: the package, its data files, this checkout's pyproject.toml, the test helpers and the selected tests;
    returns the test files."""
    if work.exists():
        shutil.rmtree(work)
    (work / "tests").mkdir(parents=True)
    shutil.copytree(source / "analysis", work / "analysis", ignore=shutil.ignore_patterns("__pycache__"))
    for data in DATA_DIRS:
        if (source / data).exists():
            shutil.copytree(source / data, work / data)
    shutil.copy2(REPO / "pyproject.toml", work / "pyproject.toml")  # the tool's settings, whatever the ref
    settings = (work / "pyproject.toml").read_text()
    if "also_copy" not in settings:  # mutmut runs the tests in mutants/: the data files go there too
        listed = ", ".join(f'"{data}"' for data in DATA_DIRS)
        (work / "pyproject.toml").write_text(settings.replace("[tool.mutmut]\n", f"[tool.mutmut]\nalso_copy = [{listed}]\n", 1))
    for helper in (source / "tests").glob("*.py"):
        if not helper.name.startswith("test_"):
            shutil.copy2(helper, work / "tests" / helper.name)
    conftest = work / "tests" / "conftest.py"
    if "def pytest_configure" in conftest.read_text():
        raise SystemExit(f"{conftest.name} defines pytest_configure: merge it with tooling/mutants.py's CONFTEST_PLUGIN")
    with conftest.open("a") as handle:
        handle.write(CONFTEST_PLUGIN)
    tests = selected_tests(source / "tests")
    for path in tests:
        shutil.copy2(path, work / "tests" / path.name)
    for path in mutated_files(work):
        file = work / path
        file.write_text(undecorate(file.read_text()))
    return [path.name for path in tests]


def export_ref(ref: str, into: Path) -> Path:
    """The tree of a git commit (``--ref``), for a run on committed code only."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "analysis", "tests", *DATA_DIRS],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def statuses(work: Path, patterns: list[str]) -> dict[str, str]:
    """Status of every in-scope mutant, from mutmut's per-file ``.meta`` records."""
    sys.path.insert(0, str(work))
    from mutmut.stats import status_by_exit_code

    result = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
                result[name] = status_by_exit_code[code]
    return result


def diff_of(work: Path, name: str) -> str:
    """The unified diff of one mutant against the original function (what ``mutmut show`` prints)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    path = Path(name.rpartition(".")[0].replace(".", "/") + ".py")
    here = Path.cwd()
    os.chdir(work)  # mutmut reads its mutants/ folder relative to the working directory
    try:
        return get_diff_for_mutant(name, path=path)
    finally:
        os.chdir(here)


def changed_lines(diff: str) -> list[str]:
    return [line[0] + line[1:].strip() for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def function_of(name: str) -> str:
    """``analysis.stats.x.x_f__mutmut_3`` -> ``analysis.stats.x.f`` (``x__f`` -> ``_f``; methods: ``xǁClassǁm`` -> ``Class.m``)."""
    module, _, mangled = name.rpartition(".")
    mangled = mangled.split("__mutmut_")[0]
    function = mangled[2:] if mangled.startswith("x_") else mangled.removeprefix("xǁ").replace("ǁ", ".")
    return f"{module}.{function}"


def equivalent_reason(function: str, diff: str, known: list[dict]) -> str | None:
    """The recorded reason if this mutant (function and changed lines) is listed as equivalent."""
    lines = changed_lines(diff)
    for entry in known:
        if entry["function"] == function and [line[0] + line[1:].strip() for line in entry["change"]] == lines:
            return entry["reason"]
    return None


MUTANT_DEF = re.compile(r"^\s*def (\S+__mutmut_\d+)\(")


def mutant_sources(work: Path, module: str) -> dict[str, set[str]]:
    """The stripped lines of each mutant function in a generated file (a cheap first sieve before a diff)."""
    sources: dict[str, set[str]] = {}
    current: set[str] | None = None
    indent = 0  # of the mutant's def: a def at that depth or less ends it, a nested one is part of it
    for line in (work / "mutants" / (module.replace(".", "/") + ".py")).read_text().splitlines():
        depth = len(line) - len(line.lstrip())
        match = MUTANT_DEF.match(line)
        if match:
            current, indent = sources.setdefault(f"{module}.{match.group(1)}", set()), depth
        elif (line.lstrip().startswith("def ") and depth <= indent) or line[:1] not in ("", " ", "\t", ")", "]", "}"):
            current = None  # another function (the original, a method) or top-level code after the mutant
        if current is not None:
            current.add(line.strip())
    return sources


def listed_equivalents(work: Path, patterns: list[str], known: list[dict]) -> list[str]:
    """Names of the generated mutants that the list names (function and changed lines).

    A diff costs ~13 ms, so only mutants whose source holds every added line of some entry of their function are diffed."""
    entries: dict[str, list[dict]] = {}
    for entry in known:
        entries.setdefault(entry["function"], []).append(entry)
    found = []
    sources: dict[str, dict[str, set[str]]] = {}
    for name in statuses(work, patterns):
        function = function_of(name)
        if function not in entries:
            continue
        module = name.rpartition(".")[0]
        if module not in sources:
            sources[module] = mutant_sources(work, module)
        lines = sources[module].get(name, set())
        if not any(all(line[1:].strip() in lines for line in entry["change"] if line.startswith("+"))
                   for entry in entries[function]):
            continue
        if equivalent_reason(function, diff_of(work, name), entries[function]):
            found.append(name)
    return sorted(found)


def with_listed_not_run(status: dict[str, str], left_out: list[str]) -> dict[str, str]:
    """The listed equivalents this run left out count as the survivors they were when listed, not as never run."""
    listed = set(left_out)
    return {name: LISTED_NOT_RUN if state == "skipped" and name in listed else state for name, state in status.items()}


def kill_rate(counts: Counter) -> float | None:
    """Killed / tested; mutants with no covering test count as survivors (no test would notice them)."""
    tested = sum(n for status, n in counts.items() if status not in NOT_RUN)
    killed = sum(n for status, n in counts.items() if status in KILLED)
    return killed / tested if tested else None


def known_equivalents() -> list[dict]:
    """The entries of tooling/mutants_equivalent.json (function, changed lines, reason)."""
    return json.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else []


def report(work: Path, patterns: list[str], tests: list[str], seconds: float, source: str) -> dict:
    known = known_equivalents()
    left_out = work / "mutants" / EQUIVALENT_FILE
    status = with_listed_not_run(statuses(work, patterns), left_out.read_text().splitlines() if left_out.exists() else [])
    by_module: dict[str, Counter] = {}
    survivors = []
    for name, state in sorted(status.items(), key=lambda item: (function_of(item[0]), int(item[0].rsplit("_", 1)[1]))):
        module = name.rpartition(".")[0]
        by_module.setdefault(module, Counter())[state] += 1
        if state in KILLED or state in NOT_RUN:
            continue
        diff = diff_of(work, name)
        reason = equivalent_reason(function_of(name), diff, known)
        survivors.append({"mutant": name, "function": function_of(name), "status": state, "equivalent": reason,
                          "diff": diff})
    total = sum(by_module.values(), Counter())
    equivalent = sum(1 for s in survivors if s["equivalent"])
    tested = sum(n for state, n in total.items() if state not in NOT_RUN)
    killed = sum(n for state, n in total.items() if state in KILLED)
    return {
        "source": source,
        "seconds": round(seconds, 1),
        "tests": tests,
        "scope": patterns,
        "kill_rate": kill_rate(total),
        "kill_rate_without_equivalent": killed / (tested - equivalent) if tested > equivalent else None,
        "counts": dict(total),
        "modules": {module: {"kill_rate": kill_rate(c), "counts": dict(c)} for module, c in sorted(by_module.items())},
        "survivors": survivors,
    }


def as_text(result: dict) -> str:
    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = [
        f"mutation testing of {result['source']} in {result['seconds']:.0f} s",
        f"kill rate {rate(result['kill_rate'])} overall; {rate(result['kill_rate_without_equivalent'])} with the "
        f"listed equivalent mutants left out; counts {result['counts']}",
        "",
        "per module:",
    ]
    for module, entry in result["modules"].items():
        lines.append(f"  {module:45s} {rate(entry['kill_rate']):>7s}  {entry['counts']}")
    open_survivors = [s for s in result["survivors"] if not s["equivalent"]]
    lines += ["", f"survivors not listed as equivalent ({len(open_survivors)}):"]
    for survivor in open_survivors:
        lines += ["", f"## {survivor['mutant']} ({survivor['status']})", survivor["diff"]]
    lines += ["", "equivalent (tooling/mutants_equivalent.json):"]
    lines += [f"  {s['mutant']}{' (not run)' if s['status'] == LISTED_NOT_RUN else ''}: {s['equivalent']}"
              for s in result["survivors"] if s["equivalent"]]
    return "\n".join(lines) + "\n"


MUTMUT_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
# mutmut's first step alone (`mutmut run` repeats it and finds every generated file newer than its source), so
# that the listed equivalents can be named before any mutant runs. mutmut 3.8.1 (pinned) has no command for it.
GENERATE = ("import os, sys; os.makedirs('mutants', exist_ok=True)\n"
            "from mutmut.utils.file_utils import copy_src_dir\n"
            "from mutmut.__main__ import create_mutants\n"
            "copy_src_dir(); create_mutants(int(sys.argv[1]))\n")


def in_work(command: list[str], work: Path, log: Path, step: str) -> None:
    """One mutmut step in the scratch copy, its output appended to the log."""
    with log.open("a") as handle:
        finished = subprocess.run(command, cwd=work, env={**os.environ, **MUTMUT_ENV}, stdout=handle,
                                  stderr=subprocess.STDOUT)
    if finished.returncode != 0:
        raise SystemExit(f"{step} failed (exit {finished.returncode}); see {log}")


def generate_mutants(work: Path, max_children: int, log: Path) -> None:
    in_work([sys.executable, "-c", GENERATE, str(max_children)], work, log, "mutmut's mutant generation")


def run_mutmut(work: Path, patterns: list[str], max_children: int, log: Path) -> None:
    mutmut = str(Path(sys.executable).parent / "mutmut")
    in_work([mutmut, "run", "--max-children", str(max_children), *patterns], work, log, "mutmut")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "mutants")
    parser.add_argument("--ref", help="mutate this git commit instead of the working tree")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutant workers (default 1 core)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report of the last run in --out")
    parser.add_argument("--only", nargs="*", help="mutant-name globs narrowing the scope (e.g. 'analysis.stats.runs.*')")
    parser.add_argument("--all", action="store_true",
                        help="run the mutants listed as equivalent too (left out by default: each survived when listed)")
    args = parser.parse_args()
    out = args.out.resolve()
    if not out.is_relative_to(REPO):  # tests/unit/test_preregistration.py asks git about the commit it runs in
        parser.error(f"--out {out}: must lie inside the checkout ({REPO}); a selected test reads its git history")
    work = out / "work"
    if args.report_only:
        previous = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
        tests, seconds = previous.get("tests", []), previous.get("seconds", float("nan"))
        patterns = args.only or previous.get("scope") or mutant_patterns(work)
    else:
        source = export_ref(args.ref, out / "source") if args.ref else REPO
        tests = copy_tree(source, work)
        patterns = args.only or mutant_patterns(work)
        started = time.perf_counter()
        (out / "mutmut.log").unlink(missing_ok=True)
        generate_mutants(work, args.max_children, out / "mutmut.log")
        if not args.all:
            listed = listed_equivalents(work, patterns, known_equivalents())
            (work / "mutants" / EQUIVALENT_FILE).write_text("".join(f"{name}\n" for name in listed))
            print(f"{len(listed)} mutants listed as equivalent are left out (--all runs them)")
        run_mutmut(work, patterns, args.max_children, out / "mutmut.log")
        seconds = time.perf_counter() - started
    result = report(work, patterns, tests, seconds, args.ref or "the working tree")
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    text = as_text(result)
    (out / "report.txt").write_text(text)
    print("\n".join(text.splitlines()[:3 + len(result["modules"]) + 1]))
    print(f"report: {out / 'report.txt'} (survivors with diffs), {out / 'report.json'}")


if __name__ == "__main__":
    main()
