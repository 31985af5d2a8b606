"""Client stubs for other languages: buf.gen.yaml's local plugins generate Go, Java and
TypeScript from the protos into a temporary directory (what `make stubs` does), each
with the services' clients and the protos' comments. A generator that is not installed
skips its language with the reason (CI installs them all: .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CODEGEN = ROOT / "codegen"

# Per language: buf.gen.yaml's plugins for it, a file every run must write, and what that
# file must hold (a service client and a comment from the protos).
LANGUAGES = {
    "go": ({"protoc-gen-go", "protoc-gen-go-grpc"},
           "go/reservation/v1/reservation_service_grpc.pb.go",
           ["type ReservationServiceClient interface", "package reservationv1",
            "Hold stock for an order, all lines or none."]),
    "java": ({"java", "grpc_java_plugin"},
             "java/com/reservation/v1/ReservationServiceGrpc.java",
             ["package com.reservation.v1;", "class ReservationServiceGrpc",
              "Hold stock for an order, all lines or none."]),
    "typescript": ({"codegen/node_modules/.bin/protoc-gen-ts_proto"},
                   "ts/reservation/v1/reservation_service.ts",
                   ["export interface ReservationServiceClient", "@grpc/grpc-js",
                    "amountCents", "Hold stock for an order, all lines or none."]),
}


def _name(plugin: dict) -> str:
    return plugin.get("local") or plugin["protoc_builtin"]


def _missing(plugin: dict) -> str | None:
    """Why the plugin cannot run here, or None."""
    if "protoc_builtin" in plugin:
        return None if shutil.which("protoc") else "protoc is not installed (Debian: " \
            "protobuf-compiler)"
    local = plugin["local"]
    if "/" in local:
        if (ROOT / local).exists():
            return None
        if shutil.which("npm") is None:
            return "npm is not installed (the TypeScript generator is an npm package)"
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=CODEGEN, check=True, timeout=600)
        return None
    return None if shutil.which(local) else f"{local} is not installed (see buf.gen.yaml)"


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_stubs_generate(language: str, tmp_path: Path) -> None:
    wanted, sample, texts = LANGUAGES[language]
    template = yaml.safe_load((ROOT / "buf.gen.yaml").read_text())
    plugins = [p for p in template["plugins"] if _name(p) in wanted]
    assert {_name(p) for p in plugins} == wanted, "buf.gen.yaml lost a plugin"
    for plugin in plugins:
        why = _missing(plugin)
        if why:
            pytest.skip(f"{language}: {why}")
    template["plugins"] = plugins
    only = tmp_path / "buf.gen.yaml"
    only.write_text(yaml.safe_dump(template))
    buf = shutil.which("buf", path=str(Path(sys.executable).parent)) or "buf"
    out = tmp_path / "gen"
    result = subprocess.run([buf, "generate", "protos", "--template", str(only),
                             "--output", str(out)], cwd=ROOT, capture_output=True, text=True,
                            check=False, timeout=600)
    assert result.returncode == 0, result.stderr
    text = (out / sample).read_text()
    for expected in texts:
        assert expected in text, f"{sample} lacks {expected!r}"
