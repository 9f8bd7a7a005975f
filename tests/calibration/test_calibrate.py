"""masktrt calibrate on a reduced-width random SiamMask (width 0.125, BN fitted) and 3 real frames.

One module-scoped calibration (minmax, keep none + auto) feeds most tests; each check reads what
the command wrote: recorded pairs, QDQ flavours, deploy.json, cache provenance, sensitivity, gate.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from masktrt.provenance import sha256_file
from masktrt.calibration import cache  # noqa: E402
from masktrt.calibration.blocks import block_of, graph_blocks, resolve  # noqa: E402
from masktrt.calibration.dataset import CalibrationSet, check_feeds, record  # noqa: E402
from masktrt.calibration.gate import gate_variant, passed, references  # noqa: E402
from masktrt.calibration.pipeline import CalibrateOptions, calibrate  # noqa: E402
from masktrt.calibration.sensitivity import BlockError, auto_keep, noise_to_signal  # noqa: E402
from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.runtime.backends import open_runner  # noqa: E402
from masktrt.runtime.contract import load_contract  # noqa: E402
from masktrt.trackers.siammask.spec import GRAPHS, KERNELS, TEMPLATE  # noqa: E402
from tests.conftest import real_sequence  # noqa: E402
from tests.helpers.export_helpers import export_small, small_model  # noqa: E402

FRAMES = 3


@pytest.fixture(scope="module")
def fp32_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cal") / "fp32"
    export_small(small_model(), folder)
    return folder


@pytest.fixture(scope="module")
def calibrated(fp32_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "int8"
    opts = CalibrateOptions(fp32_dir, [real_sequence("davis-dog")], out, methods=["minmax"],
                            keep=["none", "auto"], frames_per_sequence=FRAMES, threads=1)
    return opts, calibrate(opts, log=lambda _: None)


def test_recorded_search_inputs_are_paired_with_their_targets_kernels(fp32_dir) -> None:
    deploy = load_contract(fp32_dir)
    backend = open_runner("onnxruntime", onnx_dir=fp32_dir, provider="cpu", threads=1)
    data = record(backend, deploy, [real_sequence("davis-dog")], FRAMES)
    check_feeds(data, deploy)
    assert data.frames == [("davis-dog", 1), ("davis-dog", 2)]
    assert data.count("search") == data.count("refine") == FRAMES - 1
    assert data.count("template") == FRAMES  # init crop + one exemplar per tracked frame
    init_kernels = backend.run(TEMPLATE, {"z": data.feeds["template"][0]["z"]})
    assert set(init_kernels) == set(KERNELS)
    for sample in data.feeds["search"]:
        for name, kernel in init_kernels.items():
            np.testing.assert_array_equal(sample[name], kernel)
    for sample in data.feeds["refine"]:
        assert sample["pos"].dtype == np.int64 and np.all((0 <= sample["pos"]) & (sample["pos"] < 25))


def test_every_node_belongs_to_a_named_block(fp32_dir) -> None:
    for graph in GRAPHS:
        blocks = graph_blocks(graph, onnx.load(str(fp32_dir / f"{graph}.onnx")))
        assert not [b for b in blocks if b.endswith(":other")]
    assert block_of("/cls/conv_search/conv_search.0/Conv") == "cls.conv_search"
    assert block_of("/loc/Conv") == "loc.corr"
    assert block_of("/Conv") == "mask.corr"
    assert block_of("/features/features/layer2/layer2.0/conv1/Conv") == "layer2"
    assert block_of("/refine_model/v1/v1.0/Conv") == "v1"
    known = {"search:cls.corr": ["a"], "template:stem": ["b"], "search:stem": ["c"]}
    assert resolve(["stem"], known) == ["template:stem", "search:stem"]
    with pytest.raises(MasktrtError, match="unknown block 'nope'"):
        resolve(["nope"], known)


def _dq_input_types(path: Path) -> set[int]:
    model = onnx.load(str(path))
    inits = {t.name: t.data_type for t in model.graph.initializer}
    return {inits[n.input[0]] for n in model.graph.node
            if n.op_type == "DequantizeLinear" and n.input[0] in inits}


def _zero_points(path: Path) -> list[np.ndarray]:
    model = onnx.load(str(path))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    return [inits[n.input[2]] for n in model.graph.node
            if n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in inits]


def test_two_flavours_from_one_calibration(calibrated) -> None:
    opts, report = calibrated
    trt, ort = opts.out / "trt" / "search.onnx", opts.out / "ort" / "search.onnx"
    # TensorRT: int8 weights only (no INT32 bias DQ, which its parser refuses), symmetric zero points
    assert _dq_input_types(trt) == {onnx.TensorProto.INT8}
    zps = _zero_points(trt)
    assert zps and all(z.dtype == np.int8 and not z.any() for z in zps)
    # ONNX Runtime CPU: uint8 activations
    assert {z.dtype for z in _zero_points(ort)} == {np.dtype(np.uint8)}
    for flavour in ("trt", "ort"):
        deploy = load_contract(opts.out / flavour)
        q = deploy.raw["quantization"]
        assert q["flavour"] == flavour and q["method"] == "minmax" and q["per_channel"] is True
        assert deploy.graph("search").sha256 == sha256_file(deploy.graph("search").path)
    ranges = json.loads((opts.out / "cache" / "minmax" / "search.ranges.json").read_text())
    assert {"x", "k_cls", "cls"} <= set(ranges["data"])  # crops, paired kernels and scores ranged


def test_int8_ort_dir_loads_through_open_runner_and_tracks(calibrated) -> None:
    opts, _ = calibrated
    backend = open_runner("onnxruntime", onnx_dir=opts.out / "ort", provider="cpu", threads=1)
    from masktrt.benchmarks.parity import run_trajectory
    from masktrt.runtime.sequences import load_sequence

    seq = load_sequence(real_sequence("davis-dog"))
    results = run_trajectory(backend, seq, load_contract(opts.out / "ort").preset, frames=2)
    assert results[1].mask is not None and results[1].mask.shape == seq.frame(0).shape[:2]


def test_auto_keeps_exactly_the_blocks_over_budget_and_leaves_them_float(calibrated) -> None:
    opts, report = calibrated
    results = report.sensitivity["minmax"]
    auto = next(v for v in report.variants if v.policy == "auto")
    assert auto.kept == auto_keep(results)
    assert {r.block.split(":")[0] for r in results} == {"template", "search", "refine"}
    for graph in ("template", "search", "refine"):
        model = onnx.load(str(auto.folder / "ort" / f"{graph}.onnx"))
        dq_outputs = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
        for node in model.graph.node:
            if node.op_type == "Conv" and f"{graph}:{block_of(node.name)}" in auto.kept:
                assert node.input[1] not in dq_outputs, f"{node.name} kept float but its weight is QDQ"
    kept = json.loads((auto.folder / "ort" / "deploy.json").read_text())["quantization"]["kept_float"]
    assert set(kept) == set(auto.kept) and all("noise/signal" in why for why in kept.values())


def test_noise_to_signal_and_auto_keep() -> None:
    ref = np.linspace(-1, 1, 100).astype(np.float32)
    assert noise_to_signal(ref, ref) == 0.0
    assert noise_to_signal(ref + 0.1 * ref.std(), ref) == pytest.approx(0.1, rel=1e-3)
    results = [BlockError("search:a", {"cls": 0.05}, "cls", 0.05, 2),
               BlockError("search:b", {"cls": 0.5}, "cls", 0.5, 2)]
    assert auto_keep(results, limit=0.1) == ["search:b"]


def test_cache_reused_only_when_provenance_matches(calibrated, capsys) -> None:
    opts, _ = calibrated
    logs: list[str] = []
    again = calibrate(CalibrateOptions(opts.onnx_dir, opts.sequences, opts.out, methods=["minmax"],
                                       keep=["none"], frames_per_sequence=FRAMES, threads=1), logs.append)
    assert again.reused == {"minmax": True} and not any(line.startswith("recording") for line in logs)
    prov = json.loads((opts.out / "cache" / "minmax" / "provenance.json").read_text())
    assert prov["sequences"][0]["frames"] == FRAMES and set(prov["graphs"]) == {"template", "search", "refine"}
    changed = cache.provenance(load_contract(opts.onnx_dir), opts.sequences, FRAMES + 1, "minmax")
    assert not cache.matches(opts.out / "cache" / "minmax", changed)


def test_gate_of_the_fp32_graphs_against_themselves_passes(fp32_dir) -> None:
    deploy = load_contract(fp32_dir)
    refs = references(fp32_dir, [real_sequence("vot-bag")], deploy.preset, 3, threads=1)
    rows = gate_variant(fp32_dir, "fp32-as-int8", refs, deploy.preset, threads=1)
    assert passed(rows) and rows[0].summary("mask_iou") == (1.0, 1.0)
    assert {b.name for b, _, _ in rows[0].checks()} >= {"loop-int8-box-mean", "loop-int8-mask-min"}


def test_cli_gate_exit_code_follows_the_verdict(calibrated, capsys) -> None:
    from masktrt.cli import main

    opts, _ = calibrated
    code = main(["calibrate", "--onnx", str(opts.onnx_dir), "--sequences", str(opts.sequences[0]),
                 "--out", str(opts.out), "--frames-per-sequence", str(FRAMES), "--threads", "1",
                 "--gate", str(real_sequence("vot-bag")), "--gate-frames", "3"])
    printed = capsys.readouterr().out
    verdict = json.loads((opts.out / "calibration-report.json").read_text())["gate"]
    assert verdict["ran"] is True
    assert code == (0 if verdict["passed"] else 1)
    assert "box mean" in printed and ("PASS" in printed or "FAIL" in printed)
    weights = json.loads((opts.out / "calibration-report.json").read_text())["weights"]
    assert weights["kind"] == "random" and "seeded random weights" in weights["description"]
    assert f"weights: {weights['description']}" in printed


# ------------------------------------------------------------------ errors: one line each
def test_zero_frames_is_one_line_error(fp32_dir, tmp_path) -> None:
    with pytest.raises(MasktrtError, match="frames-per-sequence 1 gives no tracked frame"):
        calibrate(CalibrateOptions(fp32_dir, [real_sequence("davis-dog")], tmp_path,
                                   frames_per_sequence=1), log=lambda _: None)


def test_folder_of_non_images_is_one_line_error(fp32_dir, tmp_path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a frame")
    with pytest.raises(MasktrtError, match="no images"):
        calibrate(CalibrateOptions(fp32_dir, [junk], tmp_path / "out", frames_per_sequence=3),
                  log=lambda _: None)


def test_unwritable_out_is_one_line_error(fp32_dir, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MasktrtError, match="not writable"):
        calibrate(CalibrateOptions(fp32_dir, [real_sequence("davis-dog")], blocker / "out",
                                   frames_per_sequence=3), log=lambda _: None)


def test_crop_of_wrong_shape_is_one_line_error(fp32_dir) -> None:
    data = CalibrationSet()
    data.feeds["template"].append({"z": np.zeros((1, 3, 127, 127), np.float32)})
    data.feeds["search"].append({"x": np.zeros((1, 3, 127, 127), np.float32),
                                 "k_cls": np.zeros(1), "k_loc": np.zeros(1), "k_mask": np.zeros(1)})
    data.feeds["refine"].append({})
    with pytest.raises(MasktrtError, match=r"'x' is float32\[1, 3, 127, 127\], the graph takes"):
        check_feeds(data, load_contract(fp32_dir))


def test_gate_on_a_calibration_sequence_is_refused(fp32_dir, tmp_path) -> None:
    seq = real_sequence("davis-dog")
    with pytest.raises(MasktrtError, match="also used for calibration"):
        calibrate(CalibrateOptions(fp32_dir, [seq], tmp_path, gate=[seq]), log=lambda _: None)


def test_quantised_folder_is_not_calibrated_again(calibrated, tmp_path) -> None:
    opts, _ = calibrated
    with pytest.raises(MasktrtError, match="already quantised"):
        calibrate(CalibrateOptions(opts.out / "ort", opts.sequences, tmp_path), log=lambda _: None)


# ------------------------------------------------------------------ TensorRT flavour builds
@pytest.mark.parametrize("policy", ["none", "auto"])
def test_tensorrt_rtx_builds_the_trt_flavour_as_int8(calibrated, tmp_path, policy) -> None:
    """CI's check that the builder accepts the S8S8 graphs (TensorRT-RTX builds without a GPU)."""
    pytest.importorskip("tensorrt_rtx")
    from masktrt.engines import BuildRequest, build_engines

    opts, report = calibrated
    variant = next(v for v in report.variants if v.policy == policy)
    records, _ = build_engines(BuildRequest(variant.folder / "trt", backend="tensorrt-rtx",
                                            precision="int8", out=tmp_path))
    assert [r.name for r in records] == ["template", "search", "refine"]
    graph_precisions = {r.name: r.meta["graph_precision"] for r in records}
    assert graph_precisions["search"] == "int8" and all(r.meta["engine_bytes"] > 0 for r in records)
