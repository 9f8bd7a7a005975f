"""The CPU kernel layer's summary line: how many __global__ functions ran, launches and cases."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    import sys

    runner, cases = sys.modules.get("test_cpu_kernels"), sys.modules.get("tests.helpers.kernel_cases")
    if runner is None or cases is None or not runner.MODULES:
        return
    ran = {k for m in runner.MODULES.values() for k in m.launches_by_kernel}
    total = {k for m in runner.MODULES.values() for k in m.entries}
    launches = sum(sum(m.launches_by_kernel.values()) for m in runner.MODULES.values())
    per = ", ".join(f"{k} {v}" for k, v in sorted(cases.RUN_LOG.items()))
    terminalreporter.write_line(
        f"CPU kernel layer: {len(ran)}/{len(total)} __global__ functions executed on the CPU, "
        f"{launches} launches, {sum(cases.RUN_LOG.values())} cases checked against their references ({per})")
