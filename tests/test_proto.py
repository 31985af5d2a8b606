"""The API contract: buf lint (STANDARD rules) is clean and generated code is current."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_protos_are_buf_lint_clean():
    buf = shutil.which("buf", path=str(Path(sys.executable).parent)) or shutil.which("buf")
    if buf is None:
        pytest.fail("buf is missing: it comes with the dev extra (buf-bin)")
    result = subprocess.run([buf, "lint"], cwd=ROOT / "protos", capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_matches_the_protos(tmp_path):
    protos = sorted(str(p) for p in (ROOT / "protos/reservation/v1").glob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'protos'}",
                    f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}",
                    f"--pyi_out={tmp_path}", *protos], check=True)
    fresh = tmp_path / "reservation/v1"
    for path in fresh.iterdir():
        committed = ROOT / "reservation/v1" / path.name
        assert committed.exists(), f"{path.name} is not committed: run make proto"
        assert filecmp.cmp(path, committed, shallow=False), f"{path.name} is stale: make proto"
