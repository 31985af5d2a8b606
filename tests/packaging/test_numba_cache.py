"""The image carries the routing kernel compiled (k8s/Dockerfile): built in one place for
a CPU family (NUMBA_CPU_NAME), copied elsewhere (the pod's init container copies it into
an emptyDir), it is loaded, not compiled again. Checked with numba's own cache counters,
in fresh processes as the image build and the pod run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PROBE = ("import json; from reservation.routing import kernel; kernel.warm_up(); "
         "print(json.dumps([sum(f.stats.cache_hits.values()) for f in "
         "(kernel.score_numba, kernel.terms_numba)] + [sum(f.stats.cache_misses.values()) "
         "for f in (kernel.score_numba, kernel.terms_numba)]))")


def warm(cache: Path, cpu: str) -> list[int]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_CPU_NAME": cpu,
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=300).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_a_cache_built_for_a_cpu_family_loads_where_it_is_copied(tmp_path: Path) -> None:
    built, copied = tmp_path / "opt-numba-cache", tmp_path / "tmp-numba-cache"
    assert warm(built, "generic")[2:] == [1, 1]  # compiled: a miss for each kernel
    shutil.copytree(built, copied)  # what the init container's `cp -a` does
    assert warm(copied, "generic") == [1, 1, 0, 0]  # both loaded, nothing compiled
    dockerfile = (REPO / "k8s" / "Dockerfile").read_text()
    assert "NUMBA_CPU_NAME=${NUMBA_CPU_NAME} NUMBA_CACHE_DIR=/opt/numba-cache" in dockerfile
    assert "COPY --from=build /opt/numba-cache /opt/numba-cache" in dockerfile
    deployment = (REPO / "k8s" / "base" / "deployment.yaml").read_text()
    assert '"/opt/numba-cache/.", "/tmp/numba-cache/"' in deployment
