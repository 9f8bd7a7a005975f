"""`masktrt bench --extra-onnx`: extra graph folders must come from the baseline's weights."""
from __future__ import annotations

from pathlib import Path

import pytest

from masktrt.errors import MasktrtError

pytest.importorskip("torch")
from masktrt.benchmarks.bench_variants import same_weights  # noqa: E402
from masktrt.export.deploy import random_source  # noqa: E402
from masktrt.export.onnx_export import ExportOptions, export_onnx  # noqa: E402
from tests.helpers.export_helpers import PAIRS, SEED, export_small, small_model  # noqa: E402


def test_extra_graphs_of_other_weights_are_refused(tmp_path):
    model = small_model()
    deploy = export_small(model, tmp_path / "same")
    assert same_weights(tmp_path / "same", deploy.source) == tmp_path / "same"
    export_onnx(model, tmp_path / "other", random_source(SEED + 1, PAIRS), ExportOptions())
    with pytest.raises(MasktrtError, match="same weights") as info:
        same_weights(tmp_path / "other", deploy.source)
    assert "\n" not in str(info.value)


def test_plot_medians_and_lines_stay_visible() -> None:
    """Every median line differs in colour from its box, and scaling lines differ in style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    from masktrt.benchmarks.plot import _scaling, stage_boxes

    measured = [{"name": n, "samples_ms": {"total": [1.0, 2.0, 3.0]},
                 "scaling": [{"targets": k, "frame": {"mean_ms": float(k)}} for k in (1, 2)]}
                for n in ("a", "b", "c")]
    fig, (left, right) = plt.subplots(1, 2)
    stage_boxes(left, measured, ["total"], plt)
    boxes = [patch.get_facecolor()[:3] for patch in left.patches]
    medians = [to_rgba(line.get_color())[:3] for line in left.lines if len(line.get_xdata()) == 2
               and line.get_ydata()[0] == line.get_ydata()[1] == 2.0]
    assert len(medians) == 3 and not set(medians) & set(boxes)
    _scaling(right, measured)
    styles = {(line.get_linestyle(), line.get_marker()) for line in right.lines}
    assert len(styles) == 3
    plt.close(fig)


def test_load_weights_records_the_checkpoints_own_width(tmp_path) -> None:
    """The report's weights record says what ran: the demo checkpoint's width, not --width."""
    pytest.importorskip("torch")
    from masktrt.benchmarks.bench_options import BenchOptions
    from masktrt.benchmarks.bench_variants import load_weights
    from masktrt.paths import demo_weights

    if demo_weights() is None:
        pytest.skip("this build has no demo checkpoint")
    _, source, onnx_dir = load_weights(BenchOptions(sequence=tmp_path, checkpoint=demo_weights()))
    assert source["width"] == 0.5 and source["kind"] == "checkpoint" and onnx_dir is None


def test_export_options_follow_the_tracker(tmp_path):
    """--xcorr reaches only trackers that declare `correlation`; --option pairs win; RTS's
    `sizes` reaches both the export and the torch baseline (the bench once failed on RTS)."""
    from masktrt.benchmarks.bench_options import BenchOptions

    siam = BenchOptions(sequence=tmp_path, correlation="unrolled")
    assert siam.tracker_options() == {"correlation": "unrolled"}
    rts = BenchOptions(sequence=tmp_path, tracker="rts", export_options=(("sizes", "64x96/2/6"),))
    assert rts.tracker_options() == {"sizes": "64x96/2/6"}
    both = BenchOptions(sequence=tmp_path, export_options=(("correlation", "dynamic"),),
                        correlation="unrolled")
    assert both.tracker_options() == {"correlation": "dynamic"}


def test_bench_cli_parses_option_pairs():
    from masktrt.cli import build_parser
    from masktrt.commands.bench import options_from

    args = build_parser().parse_args(["bench", "--tracker", "rts", "--option", "sizes=64x96/2/6",
                                      "--out", "unused"])
    assert options_from(args).tracker_options() == {"sizes": "64x96/2/6"}


def test_source_digest_follows_the_code(tmp_path):
    """The bench's export cache key: any change to a .py file under the folder changes it."""
    from masktrt.provenance import source_digest

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("not code")
    first = source_digest(tmp_path)
    (tmp_path / "notes.md").write_text("still not code")
    assert source_digest(tmp_path) == first
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert source_digest(tmp_path) != first


def test_an_extra_graph_folder_is_named_by_its_differing_export_options(monkeypatch, tmp_path):
    """Two ONNX Runtime rows of one tracker: the second says how its graphs differ (RTS's
    filtering=conv beside the default MatMul), or, exported alike, which folder it came from."""
    from types import SimpleNamespace

    import masktrt.runtime.contract as contract
    from masktrt.benchmarks.bench_variants import distinction

    options = {"conv": {"sizes": "480x832/32/50", "filtering": "conv"},
               "ort": {"sizes": "480x832/32/50", "filtering": "matmul"}}
    monkeypatch.setattr(contract, "load_contract",
                        lambda folder: SimpleNamespace(options=options[Path(folder).name]))
    assert distinction(tmp_path / "conv", "rts") == "filtering=conv"
    assert distinction(tmp_path / "int8" / "ort", "rts") == "int8"
