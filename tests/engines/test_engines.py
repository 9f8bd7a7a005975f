"""Real TensorRT-RTX builds (ahead of time, no GPU) from toy export folders: CLI, metadata,
cache, the checks a build makes, and the load path's refusals. Execution is GPU-only."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorrt_rtx")
pytest.importorskip("onnx")

from tests.helpers.engine_graphs import write_export  # noqa: E402  (tests/runtime, beside this file)

from masktrt.cli import main  # noqa: E402
from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.provenance import sha256_file  # noqa: E402
from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.engines.network import parse_onnx, shape_tensor_inputs  # noqa: E402
from masktrt.runtime.engine_loader import SCHEMA, load_engine, probe_gpu  # noqa: E402
from masktrt.runtime.trt_module import import_trt  # noqa: E402

TRT = import_trt("tensorrt-rtx")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    return {tag: write_export(root / tag, *tag.split("-"))
            for tag in ("dynamic-fp32", "unrolled-fp32", "dynamic-fp16")}


@pytest.fixture(scope="module")
def built(exports, tmp_path_factory) -> tuple[Path, str]:
    """One CLI build of the dynamic FP32 folder; returns (engine folder, printed output)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("engines")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["build", "--onnx", str(exports["dynamic-fp32"]), "--backend", "tensorrt-rtx",
                     "--out", str(out), "--workspace", "256"])
    assert code == 0
    return out, buffer.getvalue()


def test_cli_builds_three_engines_with_metadata(built, exports) -> None:
    out, printed = built
    deploy = json.loads((exports["dynamic-fp32"] / "deploy.json").read_text())
    for name in ("template", "search", "refine"):
        engine = out / f"{name}.engine"
        meta = json.loads((out / f"{name}.json").read_text())
        assert engine.stat().st_size == meta["engine_bytes"] > 10_000
        assert meta["schema"] == SCHEMA
        assert meta["tensorrt"] == {"module": "tensorrt_rtx", "version": TRT.__version__}
        assert meta["gpu"] == {"name": None, "compute_capability": None}
        assert meta["targets"]["kind"] == "ahead-of-time default"
        assert meta["precision"] == "fp32" and meta["xcorr"] == "dynamic"
        assert meta["onnx"]["sha256"] == sha256_file(exports["dynamic-fp32"] / f"{name}.onnx")
        assert meta["build_seconds"] > 0 and meta["workspace_mb"] == 256
        # the engine's I/O as TensorRT parsed it equals deploy.json's contract
        assert meta["inputs"] == deploy["graphs"][name]["inputs"]
        assert meta["outputs"] == deploy["graphs"][name]["outputs"]
        assert meta["rebuild"].startswith("masktrt build --onnx ")
        # the contract, as the runner reads it from the engine folder alone
        assert meta["tracker"] == "siammask" and meta["graphs"] == ["template", "search", "refine"]
        assert meta["runs"] == ("target" if name == "template" else "frame")
        assert meta["options"] == {"correlation": "dynamic"} and meta["refit"] is None
        assert f"\n{name} " in printed
    assert "auto picked 'dynamic' for tensorrt_rtx" in printed
    assert "precision" in printed.splitlines()[1]  # the summary table's header


def test_second_build_reuses_engines_and_force_rebuilds(built, exports) -> None:
    out, _ = built
    request = BuildRequest(exports["dynamic-fp32"], out=out, workspace_mb=256)
    records, _ = build_engines(request, graphs=("refine",), trt=TRT)
    assert records[0].cached
    request.force = True
    records, _ = build_engines(request, graphs=("refine",), trt=TRT)
    assert not records[0].cached


def test_changed_onnx_is_refused_until_reexported(exports, tmp_path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(exports["unrolled-fp32"], folder)
    with open(folder / "refine.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(MasktrtError, match="changed since deploy.json"):
        build_engines(BuildRequest(folder, out=tmp_path / "e"), trt=TRT)


def test_fp16_engines_from_fp16_graphs(exports, tmp_path) -> None:
    records, _ = build_engines(BuildRequest(exports["dynamic-fp16"], precision="fp16", out=tmp_path),
                               graphs=("search",), trt=TRT)
    meta = records[0].meta
    assert meta["precision"] == "fp16" and meta["graph_precision"] == "fp16" and meta["strongly_typed"]
    assert meta["builder_flags"] == []  # TensorRT-RTX: the graph's types decide, no flags
    assert {t["dtype"] for t in meta["inputs"]} == {"float32"}  # FP32 at the edges


def test_rtx_refuses_fp16_from_fp32_graphs(exports, tmp_path, capsys) -> None:
    code = main(["build", "--onnx", str(exports["dynamic-fp32"]), "--precision", "fp16",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "strongly typed" in err and "masktrt export --precision fp16" in err


def test_strategy_mismatch_names_export_command(exports, tmp_path, capsys) -> None:
    code = main(["build", "--onnx", str(exports["unrolled-fp32"]), "--xcorr", "dynamic",
                 "--out", str(tmp_path)])
    assert code == 2 and "masktrt export --xcorr dynamic" in capsys.readouterr().err


def test_unrolled_builds_and_auto_says_what_it_picked(exports, tmp_path) -> None:
    records, notes = build_engines(BuildRequest(exports["unrolled-fp32"], out=tmp_path),
                                   graphs=("search",), trt=TRT)
    assert records[0].meta["xcorr"] == "unrolled"
    assert any("auto picked 'unrolled'" in n for n in notes)


def test_timing_cache_is_ignored_by_rtx_and_said(exports, tmp_path) -> None:
    cache = tmp_path / "timing.cache"
    records, notes = build_engines(BuildRequest(exports["dynamic-fp32"], out=tmp_path / "e",
                                                timing_cache=cache), graphs=("template",), trt=TRT)
    assert not cache.exists() and records[0].meta["timing_cache"] is None
    assert any("ignores timing caches" in n for n in notes)


def test_explicit_compute_capability_target(exports, tmp_path) -> None:
    records, _ = build_engines(BuildRequest(exports["dynamic-fp32"], out=tmp_path,
                                            compute_capabilities=("8.6",)), graphs=("template",), trt=TRT)
    assert records[0].meta["targets"] == {"compute_capabilities": ["8.6"], "kind": "explicit"}


def test_default_targets_are_the_documented_portable_set(built) -> None:
    meta = json.loads((built[0] / "template.json").read_text())
    assert meta["targets"] == {"compute_capabilities": ["8.6", "8.9", "12.0"], "kind": "ahead-of-time default"}


@pytest.mark.parametrize("cc", ["9.0", "8.0", "8.7"])
def test_cli_refuses_targets_outside_the_support_matrix(exports, tmp_path, capsys, cc) -> None:
    """Issue 21 defect 2: 9.0 (H100/H200), 8.0 (A100; in the bindings' enum, not in the matrix)
    and 8.7 (Orin) are refused in one line naming the supported list, before TensorRT-RTX builds."""
    code = main(["build", "--onnx", str(exports["dynamic-fp32"]), "--backend", "tensorrt-rtx",
                 "--compute-capability", cc, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "supports compute capability 7.5, 8.6, 8.9, 12.0, 12.1 only" in err
    assert f"the --compute-capability target is {cc}" in err and "--backend tensorrt" in err
    assert not list(tmp_path.glob("*.engine"))


def test_build_on_a_gpu_outside_the_support_matrix_is_refused(exports, tmp_path, monkeypatch) -> None:
    import masktrt.engines.build as build_module
    from masktrt.runtime.engine_loader import Gpu

    monkeypatch.setattr(build_module, "probe_gpu", lambda: Gpu("NVIDIA H200", (9, 0)))
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(exports["dynamic-fp32"], out=tmp_path), graphs=("template",), trt=TRT)
    text = str(exc.value)
    assert "\n" not in text and "this GPU (NVIDIA H200) is 9.0" in text and "12.1 only" in text
    assert "--compute-capability X.Y" in text  # ahead of time for other GPUs is still allowed
    records, _ = build_engines(BuildRequest(exports["dynamic-fp32"], out=tmp_path,
                                            compute_capabilities=("8.9",)), graphs=("template",), trt=TRT)
    assert records[0].meta["targets"]["compute_capabilities"] == ["8.9"]


def test_malformed_compute_capability_is_one_line(exports, tmp_path) -> None:
    with pytest.raises(MasktrtError, match="not of the form MAJOR.MINOR"):
        build_engines(BuildRequest(exports["dynamic-fp32"], out=tmp_path, compute_capabilities=("86",)),
                      graphs=("template",), trt=TRT)


# --- INT8: only from QDQ graphs ------------------------------------------------------------
def test_int8_without_qdq_says_it_needs_calibration(exports, tmp_path) -> None:
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(exports["dynamic-fp32"], precision="int8", out=tmp_path), trt=TRT)
    assert "needs a QDQ graph" in str(exc.value) and "masktrt calibrate" in str(exc.value)


def test_int8_builds_from_qdq_graph(tmp_path) -> None:
    folder = write_export(tmp_path / "qdq", "dynamic", "int8")
    records, _ = build_engines(BuildRequest(folder, precision="int8", out=tmp_path / "e"),
                               graphs=("template", "refine"), trt=TRT)
    meta = {r.name: r.meta for r in records}
    assert meta["template"]["graph_precision"] == "int8" and meta["template"]["precision"] == "int8"
    assert meta["refine"]["graph_precision"] == "fp32"  # left in float by the calibration


# --- the checks a build makes ----------------------------------------------------------------
def test_pos_stays_an_execution_tensor(exports) -> None:
    parsed = parse_onnx(TRT, exports["dynamic-fp32"] / "refine.onnx")
    names = [parsed.network.get_input(i).name for i in range(parsed.network.num_inputs)]
    pos = parsed.network.get_input(names.index("pos"))
    assert pos.is_shape_tensor is False
    assert shape_tensor_inputs(parsed.network) == []


def test_naive_pad_then_slice_is_caught(tmp_path) -> None:
    folder = write_export(tmp_path / "naive", naive_refine=True)
    parsed = parse_onnx(TRT, folder / "refine.onnx")
    assert shape_tensor_inputs(parsed.network) == ["pos"]  # the trap is real, so the check can fail
    with pytest.raises(MasktrtError, match="pos are used as shape tensors"):
        build_engines(BuildRequest(folder, out=tmp_path / "e"), graphs=("refine",), trt=TRT)


def test_parser_errors_are_collected_into_one_line(tmp_path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("NoSuchOp", ["a"], ["b"], name="mystery", domain="masktrt.test")
    graph = helper.make_graph([node], "bad", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("masktrt.test", 1)])
    onnx.save(model, tmp_path / "bad.onnx")
    with pytest.raises(MasktrtError) as exc:
        parse_onnx(TRT, tmp_path / "bad.onnx")
    assert "\n" not in str(exc.value) and "mystery" in str(exc.value) and "cannot parse" in str(exc.value)


def test_io_mismatch_with_deploy_json_is_refused(exports, tmp_path) -> None:
    folder = tmp_path / "edited"
    shutil.copytree(exports["dynamic-fp32"], folder)
    doc = json.loads((folder / "deploy.json").read_text())
    doc["graphs"]["template"]["outputs"][0]["shape"] = [1, 4, 9, 9]
    (folder / "deploy.json").write_text(json.dumps(doc))
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(folder, out=tmp_path / "e"), graphs=("template",), trt=TRT)
    assert "does not match deploy.json" in str(exc.value) and "k_cls shape" in str(exc.value)


# --- loading ---------------------------------------------------------------------------------
def _edited_copy(built_dir: Path, tmp_path: Path, **changes) -> Path:
    for suffix in (".engine", ".json"):
        shutil.copy(built_dir / f"search{suffix}", tmp_path / f"search{suffix}")
    meta = json.loads((tmp_path / "search.json").read_text())
    for key, value in changes.items():
        meta[key] = value
    (tmp_path / "search.json").write_text(json.dumps(meta))
    return tmp_path / "search.engine"


def test_load_refuses_other_tensorrt_version(built, tmp_path) -> None:
    engine = _edited_copy(built[0], tmp_path, tensorrt={"module": "tensorrt_rtx", "version": "1.5.0.1"})
    with pytest.raises(MasktrtError) as exc:
        load_engine(engine)
    text = str(exc.value)
    assert "\n" not in text and "1.5.0.1" in text
    meta = json.loads((built[0] / "search.json").read_text())
    assert text.endswith(f"rebuild with: {meta['rebuild']}")  # the exact command that built it


def test_load_without_metadata_is_refused(built, tmp_path) -> None:
    shutil.copy(built[0] / "search.engine", tmp_path / "search.engine")
    with pytest.raises(MasktrtError, match="no metadata"):
        load_engine(tmp_path / "search.engine")


def test_load_without_gpu_is_a_clear_error(built) -> None:
    if probe_gpu() is not None:
        pytest.skip("a GPU is present")
    with pytest.raises(MasktrtError) as exc:
        load_engine(built[0] / "search.engine")
    assert "no NVIDIA GPU" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.gpu
def test_load_deserialises_with_metadata_io(built) -> None:
    loaded = load_engine(built[0] / "search.engine")
    engine = loaded.engine
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    assert names and set(names) == {t["name"] for t in loaded.meta["inputs"] + loaded.meta["outputs"]}
    for t in loaded.meta["inputs"]:
        assert list(engine.get_tensor_shape(t["name"])) == t["shape"]
