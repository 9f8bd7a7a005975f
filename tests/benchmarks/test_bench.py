"""`masktrt bench`: statistics on known data, the stage clock, and a smoke run of the command.

The smoke run is what CI runs: a 5-frame synthetic sequence, a width-0.125 random model (same
structure as the real one, ~1/60 of the compute), torch and ONNX Runtime on the CPU, 3 timed
frames; it checks the JSON schema, the Markdown and the PNG, and that the stage times really
come from inside the tracker's call.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from masktrt.benchmarks.bench import (BASELINE, jittered_boxes, stages_of,
                                      validate_report)
from masktrt.benchmarks.clock import StageClock, summarize
from masktrt.cli import main

WIDTH, PAIRS, SEED = 0.125, 8, 0


# ---------------------------------------------------------------- statistics
def test_percentiles_on_known_data():
    stats = summarize([float(v) for v in range(1, 102)])  # 1..101
    assert stats["n"] == 101
    assert stats["p50_ms"] == pytest.approx(51.0)
    assert stats["p90_ms"] == pytest.approx(91.0)
    assert stats["p99_ms"] == pytest.approx(100.0)
    assert stats["mean_ms"] == pytest.approx(51.0)
    assert stats["min_ms"] == 1.0 and stats["max_ms"] == 101.0
    assert stats["fps"] == pytest.approx(1000.0 / 51.0)


def test_percentiles_interpolate_between_samples():
    stats = summarize([4.0, 1.0, 3.0, 2.0])  # order must not matter
    assert stats["p50_ms"] == pytest.approx(2.5)
    assert stats["p90_ms"] == pytest.approx(3.7)  # rank 0.9 * 3 = 2.7 -> 3 + 0.7
    assert stats["p99_ms"] == pytest.approx(3.97)
    assert stats["fps"] == pytest.approx(400.0)  # 1000 / mean 2.5


def test_percentiles_of_nothing_are_none():
    stats = summarize([])
    assert stats["n"] == 0 and stats["p50_ms"] is None and stats["fps"] is None


# ---------------------------------------------------------------- clock
def test_stage_clock_records_only_when_recording_and_by_phase():
    clock = StageClock()
    with clock("crop"):
        pass  # warm-up: not recorded
    clock.recording = True
    clock.phase = "init"
    with clock("crop"):
        pass
    clock.phase = "track"
    for _ in range(3):
        with clock("search"):
            sum(range(1000))
    clock.add("total", 5.0)
    assert len(clock.host["init"]["crop"]) == 1
    assert "crop" not in clock.host["track"]
    assert len(clock.host["track"]["search"]) == 3
    assert all(v > 0 for v in clock.host["track"]["search"])
    assert clock.stats("track")["total"]["p50_ms"] == 5.0


def test_stage_clock_records_a_stage_that_raises():
    clock = StageClock()
    clock.recording = True
    with pytest.raises(ValueError):
        with clock("refine"):
            raise ValueError("backend failed")
    assert len(clock.host["track"]["refine"]) == 1


def test_jittered_boxes_start_from_the_box_and_stay_near_it():
    box = (100.0, 50.0, 40.0, 20.0)
    boxes = jittered_boxes(box, 8, (240, 320))
    assert len(boxes) == 8 and boxes[0] == box
    assert boxes == jittered_boxes(box, 8, (240, 320))  # seeded
    arr = np.array(boxes[1:])
    assert np.all(np.abs(arr[:, 0] - 100) <= 4.0 + 1e-9) and np.all(np.abs(arr[:, 1] - 50) <= 2.0 + 1e-9)
    assert np.all((arr[:, 2] >= 36) & (arr[:, 2] <= 44)) and np.all((arr[:, 3] >= 18) & (arr[:, 3] <= 22))
    assert len({b for b in boxes}) == 8  # distinct targets


# ---------------------------------------------------------------- smoke run of the command
@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    import torch

    from masktrt.export.deploy import random_source
    from masktrt.export.onnx_export import ExportOptions, export_onnx
    from masktrt.trackers.siammask.export.random_weights import random_model

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("onnx")
    export_onnx(random_model(seed=SEED, width=WIDTH, n_pairs=PAIRS).eval(), folder,
                random_source(SEED, PAIRS), ExportOptions())
    return folder


@pytest.fixture(scope="module")
def small_sequence(tmp_path_factory):
    from masktrt.training.synthetic import generate_sequence, write_davis

    return write_davis(generate_sequence(seed=5, num_frames=5, size=(120, 160)),
                       tmp_path_factory.mktemp("seq") / "tiny")


@pytest.fixture(scope="module")
def smoke_report(small_export, small_sequence, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench", "--sequence", str(small_sequence), "--onnx", str(small_export),
                 "--timed-frames", "3", "--warmup", "1", "--targets", "1,2", "--no-progress",
                 "--out", str(out)])
    assert code == 0
    return out, json.loads((out / "bench.json").read_text())


def test_smoke_report_is_valid_and_complete(smoke_report):
    out, report = smoke_report
    assert validate_report(report) == []
    assert report["schema"] == "masktrt.bench" and report["schema_version"] == 1
    assert isinstance(report["machine"]["cpu"], str) and report["machine"]["cpu_cores"] >= 1
    assert report["machine"]["libraries"]["numpy"] == np.__version__
    assert report["sequence"]["timed_frames"] == 3 and report["sequence"]["warmup_frames"] == 1
    assert report["settings"]["weights"]["sha256"] == f"random:{SEED}"
    assert report["settings"]["weights"]["width"] == WIDTH
    assert report["settings"]["correlation"]["onnxruntime-fp32"] == "dynamic"
    names = [b["name"] for b in report["backends"]]
    assert names[0] == BASELINE and "onnxruntime-fp32" in names


def test_smoke_measured_backends_have_stats_per_stage(smoke_report):
    _, report = smoke_report
    measured = [b for b in report["backends"] if b["status"] == "measured"]
    assert {b["name"] for b in measured} >= {BASELINE, "onnxruntime-fp32"}
    stages = stages_of("siammask")
    assert report["settings"]["stages"] == stages
    assert stages["track"] == ["crop", "search", "select", "refine", "post", "total"]
    for b in measured:
        assert set(stages["track"]) <= set(b["stages"]) and set(stages["init"]) <= set(b["init"])
        for stage in stages["track"]:
            stats = b["stages"][stage]
            assert stats["n"] == 3
            assert 0 < stats["p50_ms"] <= stats["p90_ms"] <= stats["p99_ms"] <= stats["max_ms"]
        assert b["init"]["template"]["n"] == 5  # repeated inits
        assert b["fps"] == pytest.approx(1000 / b["stages"]["total"]["mean_ms"])
        # the stages are timed inside the tracker's call: per frame they cannot exceed it
        samples = b["samples_ms"]
        parts = np.sum([samples[s] for s in ("crop", "search", "select", "refine", "post")], axis=0)
        assert np.all(parts <= np.asarray(samples["total"]) + 1e-6)
        assert np.all(parts >= 0.5 * np.asarray(samples["total"]))  # and account for most of it
        assert b["memory"]["host_peak_rss_mib"] >= b["memory"]["host_rss_before_mib"] > 0
        assert [r["targets"] for r in b["scaling"]] == [1, 2]
        assert b["scaling"][0]["relative_to_one_target"] == 1.0
        assert b["scaling"][1]["frame"]["n"] == 3


def test_smoke_speedups_are_relative_to_the_torch_baseline(smoke_report):
    _, report = smoke_report
    by_name = {b["name"]: b for b in report["backends"]}
    assert by_name[BASELINE]["speedup_vs_baseline"] == 1.0
    ort = by_name["onnxruntime-fp32"]
    expected = by_name[BASELINE]["stages"]["total"]["p50_ms"] / ort["stages"]["total"]["p50_ms"]
    assert ort["speedup_vs_baseline"] == pytest.approx(expected)


def test_smoke_gpu_variants_are_reported_not_faked(smoke_report):
    from tests.conftest import has_gpu

    _, report = smoke_report
    by_name = {b["name"]: b for b in report["backends"]}
    if has_gpu():
        pytest.skip("a GPU is present: the FP16/compile variants are measured")
    for name in ("torch-fp16", "torch-compile"):
        assert by_name[name]["status"] == "not measured"
        assert by_name[name]["reason"] == "not measured (no GPU)"
        assert "stages" not in by_name[name]


def test_smoke_markdown_and_png_are_written(smoke_report):
    out, report = smoke_report
    markdown = (out / "bench.md").read_text()
    assert "| torch-fp32 | cpu |" in markdown and "| onnxruntime-fp32 | cpu |" in markdown
    assert "not measured (no GPU)" in markdown or report["settings"]["gpu"]
    assert "2 targets" in markdown
    png = (out / "bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_validate_report_names_what_is_wrong(smoke_report):
    _, report = smoke_report
    broken = json.loads(json.dumps(report))
    del broken["backends"][0]["stages"]["search"]["p99_ms"]
    assert any("'search' incomplete" in p for p in validate_report(broken))
    broken = json.loads(json.dumps(report))
    del broken["backends"][0]["stages"]["total"]
    assert any("'total' missing" in p for p in validate_report(broken))
    absent = json.loads(json.dumps(report))  # a conditional stage that never ran is fine
    del absent["backends"][0]["stages"]["refine"]
    assert not validate_report(absent)
    broken = json.loads(json.dumps(report))
    broken["schema_version"] = 99
    assert validate_report(broken)
    broken = json.loads(json.dumps(report))
    del broken["machine"]
    assert validate_report(broken)


def test_bench_rejects_unknown_backend_before_any_work(tmp_path, capsys):
    code = main(["bench", "--sequence", str(tmp_path), "--backends", "torch,caffe",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "caffe" in capsys.readouterr().err


def test_report_json_is_strict(smoke_report):
    out, _ = smoke_report
    text = (out / "bench.json").read_text()
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert not math.isnan(json.loads(text)["backends"][0]["stages"]["total"]["mean_ms"])


def test_cached_export_is_made_once_and_reused(tmp_path, monkeypatch):
    import torch

    from masktrt.benchmarks.bench_options import BenchOptions
    from masktrt.benchmarks.bench_variants import cached_export
    from masktrt.export.deploy import random_source
    from masktrt.trackers.siammask.export.random_weights import random_model
    from masktrt.runtime.contract import load_contract

    torch.set_num_threads(1)
    model = random_model(seed=SEED, width=WIDTH, n_pairs=PAIRS).eval()  # from the usual cache
    monkeypatch.setenv("MASKTRT_CACHE", str(tmp_path))
    source = {**random_source(SEED, PAIRS), "width": WIDTH}
    options = BenchOptions(sequence=tmp_path)
    first = cached_export(model, source, options)
    assert first.parent == tmp_path / "bench-onnx"
    assert load_contract(first).source == random_source(SEED, PAIRS)
    stamp = (first / "search.onnx").stat().st_mtime_ns
    assert cached_export(model, source, options) == first
    assert (first / "search.onnx").stat().st_mtime_ns == stamp  # reused, not re-exported
    other = cached_export(model, source, BenchOptions(sequence=tmp_path, correlation="unrolled"))
    assert other != first and load_contract(other).options.get("correlation") == "unrolled"
    assert not [p for p in (tmp_path / "bench-onnx").iterdir() if p.name.startswith(".")]


def test_smoke_batched_targets_side_by_side(smoke_report):
    """ONNX Runtime also times the batch=dynamic export: N targets one by one and in one
    track_many call, per frame and per target, in the JSON and the Markdown."""
    out, report = smoke_report
    ort = {b["name"]: b for b in report["backends"]}["onnxruntime-fp32"]
    for row in ort["scaling"]:
        batched = row["batched"]
        assert batched["sequential"]["n"] == batched["batched"]["n"] == 3
        assert batched["batched_per_target_ms"] == pytest.approx(
            batched["batched"]["mean_ms"] / row["targets"])
        assert batched["speedup"] == pytest.approx(
            batched["sequential"]["mean_ms"] / batched["batched"]["mean_ms"])
    assert "Batched targets" in (out / "bench.md").read_text()
    assert "batched" not in {b["name"]: b for b in report["backends"]}[BASELINE]["scaling"][0]
