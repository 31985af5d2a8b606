"""`make mutants`: break the code on purpose, one mutation at a time, and check that the
tests named for each mutation catch it.

Every mutants/*.toml names the invariant it attacks, one or more exact search/replace
edits, and the tests that must fail when they are applied. For each mutant the runner
copies the repository's files (tracked and untracked, not ignored) to a temporary
directory, applies the edits there (each search must occur exactly once, else the
mutant is stale and reported as an error), and runs only the named tests in the copy.

    killed    every named test failed: each of them guards the invariant
    weak      some named tests failed, others passed (the passing ones are listed)
    survived  every named test passed: the invariant is unguarded
    error     stale search text, or pytest could not run the tests

Before the mutants, the named tests run once on an unmutated copy: a test that fails
without any mutation would "kill" everything and prove nothing. The report goes to
benchmarks/results/mutants.md; the exit code is 1 when any mutant survived or erred.

    python mutants/run.py                 # every mutant
    python mutants/run.py oversell fifo   # the mutants whose name contains a word given
    python mutants/run.py --list
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "mutants"
REPORT = ROOT / "benchmarks" / "results" / "mutants.md"
PYTEST_TIMEOUT_S = 900


@dataclass(frozen=True)
class Edit:
    file: str
    search: str
    replace: str


@dataclass(frozen=True)
class Mutant:
    name: str
    invariant: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Mutant:
        data = tomllib.loads(path.read_text())
        edits = tuple(Edit(e["file"], e["search"], e["replace"]) for e in data["edit"])
        if not edits or not data["tests"]:
            raise ValueError(f"{path.name}: a mutant needs at least one edit and one test")
        return cls(path.stem, data["invariant"].strip(), edits, tuple(data["tests"]))


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed | survived | error
    detail: str
    seconds: float


def load_all(words: list[str]) -> list[Mutant]:
    mutants = [Mutant.load(p) for p in sorted(SPECS.glob("*.toml"))]
    if words:
        mutants = [m for m in mutants if any(w in m.name for w in words)]
    return mutants


def copy_repo(dest: Path) -> None:
    """The repository's files as they are now (uncommitted edits included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_symlink():  # clients/reservation/{v1,api}: links into the server tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), dest / name)
        elif src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def apply(copy: Path, edits: tuple[Edit, ...]) -> str | None:
    """Apply the edits in the copy; the reason it cannot, or None."""
    for e in edits:
        target = copy / e.file
        if not target.is_file():
            return f"{e.file} does not exist"
        text = target.read_text()
        found = text.count(e.search)
        if found != 1:
            return f"search text found {found} times in {e.file} (must be exactly once)"
        target.write_text(text.replace(e.search, e.replace))
    return None


def run_tests(copy: Path, tests: tuple[str, ...]) -> tuple[int, str, dict[str, bool]]:
    """Run the tests inside the copy, importing the copy's `reservation` packages.
    Returns pytest's exit code, its last lines, and per named test whether all the test
    cases it stands for passed."""
    env = dict(os.environ, PYTHONPATH=_copy_path(copy), PYTHONDONTWRITEBYTECODE="1")
    junit = copy / "mutant-junit.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           f"--junitxml={junit}", *tests]
    try:
        done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True,
                              timeout=PYTEST_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return 2, f"pytest ran longer than {PYTEST_TIMEOUT_S} s", {}
    tail = [ln for ln in done.stdout.splitlines() if ln.strip()][-3:]
    return done.returncode, " / ".join(tail), _passed(junit, tests)


def _passed(junit: Path, tests: tuple[str, ...]) -> dict[str, bool]:
    """Named test -> every test case under it passed (False when it ran none)."""
    if not junit.is_file():
        return {}
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        ok = not any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        cases.append((node, ok and not skipped))
    out = {}
    for t in tests:
        mine = [ok for node, ok in cases if node == t or node.startswith(t + "[")
                or (("::" not in t) and node.startswith(t.removesuffix(".py")))]
        out[t] = bool(mine) and all(mine)
    return out


def _copy_path(copy: Path) -> str:
    """Both distributions' roots in the copy: `reservation` is a namespace package, so the
    copy's server and clients come before the installed (editable) ones."""
    return os.pathsep.join([str(copy), str(copy / "clients")])


def check_copy_imports_itself(copy: Path) -> None:
    env = dict(os.environ, PYTHONPATH=_copy_path(copy))
    for package in ("reservation.server", "reservation.clients"):
        where = subprocess.run([sys.executable, "-c", f"import {package}; print({package}.__file__)"],
                               cwd=copy, env=env, capture_output=True, text=True,
                               check=True).stdout
        if not Path(where.strip()).resolve().is_relative_to(copy.resolve()):
            raise SystemExit(f"the copy imports {package} from {where.strip()}, not from itself")


def baseline(mutants: list[Mutant], log) -> str | None:
    """Every named test passes without a mutation; the failure summary if not."""
    tests = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
    with tempfile.TemporaryDirectory(prefix="mutant-baseline-") as tmp:
        copy = Path(tmp)
        copy_repo(copy)
        check_copy_imports_itself(copy)
        log(f"baseline: {len(tests)} named tests on the unmutated code")
        code, summary, passed = run_tests(copy, tests)
    failing = [t for t in tests if not passed.get(t)]
    return None if code == 0 and not failing else f"exit {code}: {summary}; not passing: {failing}"


def try_mutant(m: Mutant) -> Outcome:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
        copy = Path(tmp)
        copy_repo(copy)
        stale = apply(copy, m.edits)
        if stale:
            return Outcome(m, "error", stale, time.monotonic() - t0)
        code, summary, passed = run_tests(copy, m.tests)
    detail = f"pytest exit {code}: {summary}"
    if code not in (0, 1) or len(passed) != len(m.tests):
        verdict = "error"
    elif not any(passed.values()):
        verdict = "killed"
    elif all(passed.values()):
        verdict = "survived"
    else:
        verdict = "weak"
        detail += "; still passing: " + ", ".join(t for t, ok in passed.items() if ok)
    return Outcome(m, verdict, detail, time.monotonic() - t0)


def report(outcomes: list[Outcome], base: str | None) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    counts = {v: sum(o.verdict == v for o in outcomes)
              for v in ("killed", "weak", "survived", "error")}
    out = [f"# Mutation run of {stamp}", "",
           ("`make mutants` (= `python mutants/run.py`): each mutant of `mutants/*.toml` "
           "applied alone to a copy of the repository, then only its named tests run."), "",
           "A mutant is killed when every one of its named tests fails.", "",
           (f"killed {counts['killed']}, weak {counts['weak']}, survived {counts['survived']}, "
           f"error {counts['error']} of {len(outcomes)}"), ""]
    if base:
        out += [f"**Baseline failed** (the named tests fail without any mutation): {base}", ""]
    out += ["| mutant | verdict | invariant attacked | killing tests | s |", "|---|---|---|---|---|"]
    for o in outcomes:
        tests = "<br>".join(f"`{t}`" for t in o.mutant.tests)
        invariant = " ".join(o.mutant.invariant.split())
        out.append(f"| {o.mutant.name} | **{o.verdict}** | {invariant} | {tests} | "
                   f"{o.seconds:.0f} |")
    out += ["", "Details (pytest's last lines):", ""]
    out += [f"- {o.mutant.name}: {o.detail}" for o in outcomes]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="*", help="run only mutants whose name contains one")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of the named tests")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    mutants = load_all(args.words)
    if args.list:
        for m in mutants:
            print(f"{m.name}: {' '.join(m.invariant.split())}")
        return 0
    if not mutants:
        print("no mutant matches", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, flush=True)

    base = None if args.no_baseline else baseline(mutants, log)
    if base:
        log(f"baseline FAILED: {base}")
    outcomes = []
    for m in mutants:
        log(f"mutant {m.name}: {len(m.tests)} tests ...")
        outcomes.append(o := try_mutant(m))
        log(f"  {o.verdict} in {o.seconds:.0f} s ({o.detail})")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report(outcomes, base))
    log(f"report: {args.report}")
    bad = [o.mutant.name for o in outcomes if o.verdict != "killed"]
    if bad or base:
        log(f"NOT KILLED: {', '.join(bad) or '-'}" + ("; baseline failed" if base else ""))
        return 1
    log(f"all {len(outcomes)} mutants killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
