"""`--xcorr refit`: strategy choice, the refittable names in the parsed network, the build.

Without a GPU: the choice and its errors, that TensorRT-RTX's parser gives the refit search graph
weights named k_cls/k_loc/k_mask and marks them refittable (FP32 and FP16), that the template and
refine engines of a refit export build, and that the refit search engine's build (which in
TensorRT-RTX 1.7 needs CUDA for Myelin's JIT) fails with one line saying so. With a GPU: the build
succeeds in FP32 and FP16 and the metadata lists the refittable weights; tracking with the refit
engine is checked in test_refit_gpu.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
onnx_export = pytest.importorskip("masktrt.export.onnx_export")

from masktrt.errors import MasktrtError  # noqa: E402
from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.trackers.siammask.export.network import SiamMask  # noqa: E402
from masktrt.engines import BuildRequest, build_engines  # noqa: E402
from masktrt.engines.correlation import choose_xcorr  # noqa: E402
from masktrt.engines.network import parse_onnx  # noqa: E402
from masktrt.engines.refit import mark_refittable  # noqa: E402
from masktrt.runtime.contract import load_contract  # noqa: E402
from masktrt.runtime.engine_loader import probe_gpu  # noqa: E402
from masktrt.runtime.trt_module import Flavour, flavour_of, import_trt  # noqa: E402
from masktrt.trackers.siammask.spec import REFIT_WEIGHTS  # noqa: E402

TRT = import_trt("tensorrt-rtx")
RTX = Flavour("tensorrt_rtx", "1.7.1.116")
TRT10 = Flavour("tensorrt", "10.3.0.26")
TRT82 = Flavour("tensorrt", "8.2.1.8")


def export(folder: Path, correlation: str, precision: str = "fp32") -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    options = onnx_export.ExportOptions(options={"correlation": correlation}, precision=precision)
    onnx_export.export_onnx(SiamMask(width=0.125), folder, random_source(0), options)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refit")
    return {"refit-fp32": export(root / "refit-fp32", "refit"),
            "refit-fp16": export(root / "refit-fp16", "refit", "fp16"),
            "dynamic-fp32": export(root / "dynamic-fp32", "dynamic")}


# --- strategy choice -------------------------------------------------------------------------
def test_refit_is_taken_as_asked_and_by_auto() -> None:
    assert choose_xcorr(RTX, "refit", "refit")[0] == "refit"
    strategy, why = choose_xcorr(TRT82, "auto", "refit", "/m/onnx")  # no dynamic weights below 8.5
    assert strategy == "refit" and "auto picked 'refit'" in why and "8.2.1.8" in why
    strategy, why = choose_xcorr(RTX, "auto", "refit", "/m/onnx")  # exported refit: kept, better named
    assert strategy == "refit" and "masktrt export --xcorr dynamic --out /m/onnx" in why
    # auto's other choices are unchanged
    assert choose_xcorr(RTX, "auto", "dynamic")[0] == "dynamic"
    assert choose_xcorr(TRT82, "auto", "unrolled")[0] == "unrolled"


def test_refit_flag_per_flavour() -> None:
    assert RTX.refit_flag == TRT10.refit_flag == "REFIT_INDIVIDUAL"
    assert TRT82.refit_flag == "REFIT"  # no individual marking before TensorRT 10


def test_refit_build_of_a_dynamic_export_is_one_line(folders, tmp_path) -> None:
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(folders["dynamic-fp32"], xcorr="refit", out=tmp_path / "e"))
    text = str(exc.value)
    assert "\n" not in text and "re-export with: masktrt export --xcorr refit" in text


# --- the parsed network ----------------------------------------------------------------------
@pytest.mark.parametrize("which", ["refit-fp32", "refit-fp16"])
def test_parsed_refit_network_has_the_named_kernels(folders, which) -> None:
    search = load_contract(folders[which]).graph("search")
    assert [w.name for w in search.refit] == list(REFIT_WEIGHTS)
    assert {w.dtype for w in search.refit} == {"float32" if which.endswith("32") else "float16"}
    network = parse_onnx(TRT, search.path).network
    assert [network.get_input(i).name for i in range(network.num_inputs)] == ["x"]
    mark_refittable(network, flavour_of(TRT), search.refit, search.path)
    assert all(network.are_weights_marked_refittable(n) for n in REFIT_WEIGHTS)
    assert not network.are_weights_marked_refittable("not_a_weight")


def test_dynamic_search_has_no_weights_to_refit(folders) -> None:
    refit = load_contract(folders["refit-fp32"]).graph("search").refit
    path = folders["dynamic-fp32"] / "search.onnx"
    network = parse_onnx(TRT, path).network  # the kernels are inputs here, not weights
    with pytest.raises(MasktrtError) as exc:
        mark_refittable(network, flavour_of(TRT), refit, path)
    assert "k_cls" in str(exc.value) and "--xcorr refit" in str(exc.value)


# --- building --------------------------------------------------------------------------------
def test_refit_export_template_and_refine_build_without_gpu(folders, tmp_path) -> None:
    records, notes = build_engines(BuildRequest(folders["refit-fp32"], xcorr="refit", out=tmp_path / "e"),
                                   graphs=("template", "refine"))
    assert "correlation: 'refit' as asked" in notes
    assert all(r.meta["xcorr"] == "refit" and r.meta["refit"] is None for r in records)
    assert [t["name"] for t in records[0].meta["outputs"]] == list(REFIT_WEIGHTS)


def test_refit_search_build_without_gpu_says_it_needs_cuda(folders, tmp_path) -> None:
    if probe_gpu() is not None:
        pytest.skip("a GPU is present: the build succeeds (test_refit_search_engine_builds)")
    with pytest.raises(MasktrtError) as exc:
        build_engines(BuildRequest(folders["refit-fp32"], xcorr="refit", out=tmp_path / "e"),
                      graphs=("search",))
    text = str(exc.value)
    assert "\n" not in text and "needs CUDA to build the refittable engine" in text
    assert "--xcorr dynamic" in text
    assert not (tmp_path / "e" / "search.engine").exists()


@pytest.mark.gpu
@pytest.mark.parametrize("which,precision", [("refit-fp32", "fp32"), ("refit-fp16", "fp16")])
def test_refit_search_engine_builds(folders, tmp_path, which, precision) -> None:
    out = tmp_path / "e"
    (record,), _ = build_engines(BuildRequest(folders[which], precision=precision, xcorr="refit", out=out),
                                 graphs=("search",))
    meta = json.loads((out / "search.json").read_text())
    assert meta == record.meta and meta["xcorr"] == "refit"
    assert "REFIT_INDIVIDUAL" in meta["builder_flags"] and meta["refit"]["flag"] == "REFIT_INDIVIDUAL"
    search = load_contract(folders[which]).graph("search")
    assert meta["refit"]["weights"] == [w.to_dict() for w in search.refit]
    assert [t["name"] for t in meta["inputs"]] == ["x"]
