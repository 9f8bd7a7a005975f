"""The machine record and the host-memory probes behind `masktrt bench`'s report."""
from __future__ import annotations

import numpy as np
import pytest

from masktrt.benchmarks.machine import (library_versions, machine_info, machine_label,
                                        peak_rss_mib, reset_peak_rss, rss_mib)


def test_machine_info_names_cpu_cores_and_libraries():
    info = machine_info()
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert 1 <= info["usable_cores"] <= info["cpu_cores"]
    assert info["libraries"]["numpy"] == np.__version__
    assert "AMD" in machine_label(info) or "cores" in machine_label(info)


def test_library_versions_report_absent_packages_as_none():
    versions = library_versions()
    assert set(versions) >= {"numpy", "opencv", "torch", "onnxruntime", "tensorrt_rtx"}
    assert all(v is None or isinstance(v, str) for v in versions.values())


def test_peak_rss_sees_an_allocation_and_resets():
    if rss_mib() is None:
        pytest.skip("no /proc/self/status (not Linux)")
    if not reset_peak_rss():
        pytest.skip("VmHWM cannot be reset here")
    before = rss_mib()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert peak_rss_mib() >= before + 60
    del block
    assert reset_peak_rss()
    assert peak_rss_mib() < before + 30  # the old peak is forgotten
