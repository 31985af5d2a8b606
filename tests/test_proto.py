"""The API contract: buf lint (STANDARD and COMMENTS rules) is clean and generated code,
the descriptor set reflection serves included, is current."""

from __future__ import annotations

import re
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


# What a generator release stamps into its output, apart from the code: grpcio-tools'
# version (GRPC_GENERATED_VERSION) and the protobuf release it bundles (a comment and the
# runtime check's major/minor/patch). uv.lock pins the generator, so these match on a
# fresh machine; after `make lock` moves it, the code must still match, the stamps need not.
VERSION_STAMPS = [
    (re.compile(r"^GRPC_GENERATED_VERSION = '[^']*'$", re.MULTILINE),
     "GRPC_GENERATED_VERSION = ..."),
    (re.compile(r"^# Protobuf Python Version: .*$", re.MULTILINE),
     "# Protobuf Python Version: ..."),
    (re.compile(r"(_runtime_version\.Domain\.PUBLIC,\n)\s*\d+,\n\s*\d+,\n\s*\d+,\n"),
     r"\1    ...\n"),
]


def without_version_stamps(text: str) -> str:
    for pattern, replacement in VERSION_STAMPS:
        text = pattern.sub(replacement, text)
    return text


def test_version_stamps_are_all_that_is_ignored():
    generated = ("_runtime_version.ValidateProtobufRuntimeVersion(\n"
                 "    _runtime_version.Domain.PUBLIC,\n    7,\n    35,\n    1,\n    '',\n")
    assert without_version_stamps(generated) == without_version_stamps(
        generated.replace("35", "36"))
    assert without_version_stamps("GRPC_GENERATED_VERSION = '1.85.1'\nx = 1\n") != \
        without_version_stamps("GRPC_GENERATED_VERSION = '1.85.1'\nx = 2\n")


def test_generated_code_matches_the_protos(tmp_path):
    protos = sorted(str(p) for p in (ROOT / "protos/reservation/v1").glob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'protos'}",
                    f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}",
                    f"--pyi_out={tmp_path}", *protos], check=True)
    fresh = tmp_path / "reservation/v1"
    for path in fresh.iterdir():
        committed = ROOT / "reservation/v1" / path.name
        assert committed.exists(), f"{path.name} is not committed: run make proto"
        assert without_version_stamps(path.read_text()) == without_version_stamps(
            committed.read_text()), f"{path.name} is stale: make proto"


def test_descriptor_set_with_comments_matches_the_protos(tmp_path):
    """reservation/v1/descriptors.binpb (what reflection serves, comments included) is
    what protoc makes of the protos now."""
    protos = sorted(str(p.relative_to(ROOT / "protos"))
                    for p in (ROOT / "protos/reservation/v1").glob("*.proto"))
    out = tmp_path / "descriptors.binpb"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'protos'}",
                    "--include_source_info", f"--descriptor_set_out={out}", *protos],
                   check=True)
    assert out.read_bytes() == (ROOT / "reservation/v1/descriptors.binpb").read_bytes(), \
        "reservation/v1/descriptors.binpb is stale: make proto"


def _buf() -> str:
    buf = shutil.which("buf", path=str(Path(sys.executable).parent)) or shutil.which("buf")
    if buf is None:
        pytest.fail("buf is missing: it comes with the dev extra (buf-bin)")
    return buf


def test_protos_do_not_break_the_released_api():
    """make breaking-proto: buf breaking (FILE rules) against protos/released.binpb, the
    image of the last release's protos (there are no git tags to compare with)."""
    result = subprocess.run([_buf(), "breaking", "--against", "released.binpb"],
                            cwd=ROOT / "protos", capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_breaking_change_is_caught(tmp_path):
    """The check is live: a field renumbered and a field's type changed in a copy of the
    protos are each named by buf breaking against the same released image."""
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    types = tmp_path / "protos/reservation/v1/types.proto"
    text = types.read_text()
    assert "  int64 quantity = 3;\n}" in text
    types.write_text(text.replace("  int64 quantity = 3;\n}", "  int32 quantity = 3;\n}", 1)
                     .replace("  string failed_sku = 9;", "  string failed_sku = 19;"))
    result = subprocess.run([_buf(), "breaking", "--against", "released.binpb"],
                            cwd=tmp_path / "protos", capture_output=True, text=True,
                            check=False)
    assert result.returncode != 0
    assert 'changed type from "int64" to "int32"' in result.stdout
    assert "failed_sku" in result.stdout
