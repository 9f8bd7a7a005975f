"""Fuzzing every file parser with hypothesis: any input parses or raises MasktrtError.

Each parser gets mutations of a valid file (flipped, cut, inserted bytes; for JSON documents,
values replaced by other JSON values) plus raw random bytes. The fast suite runs a few dozen
examples per parser; `MASKTRT_FUZZ_EXAMPLES=2000 pytest tests/reliability/test_fuzz_parsers.py`
runs longer. Anything else than MasktrtError (a KeyError, a UnicodeDecodeError, a crash in
ONNX Runtime's or torch's loaders) is a bug: the user would see a traceback.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masktrt.errors import MasktrtError

EXAMPLES = int(os.environ.get("MASKTRT_FUZZ_EXAMPLES", "40"))
# The fast suite replays the same examples every run (a red CI must be reproducible; a found bug
# becomes a regression test below); a longer run with MASKTRT_FUZZ_EXAMPLES explores new ones.
EXPLORE = "MASKTRT_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not EXPLORE,
                suppress_health_check=list(HealthCheck))
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """`seed` with a few byte-level edits, or random bytes (one time in eight)."""
    if draw(st.integers(0, 7)) == 0:
        return draw(st.binary(max_size=256))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind, at = draw(st.sampled_from(["flip", "cut", "insert"])), draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@st.composite
def edited_json(draw, doc: dict) -> bytes:
    """`doc` with one value somewhere inside it replaced, or a key removed."""
    doc = json.loads(json.dumps(doc))
    node, path = doc, []
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append((node, key))
        node = node[key]
    if path:
        parent, key = path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(JSON_VALUES)
    return json.dumps(doc).encode()


def parses_or_masktrt_error(parse, *args) -> None:
    try:
        parse(*args)
    except MasktrtError as exc:
        assert "\n" not in str(exc)


# ------------------------------------------------------------------------- deploy.json
@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from tests.helpers.export_helpers import export_small, small_model

    folder = tmp_path_factory.mktemp("onnx")
    export_small(small_model(), folder)
    return folder


def test_fuzz_deploy_json(export_dir, tmp_path_factory):
    from masktrt.runtime.contract import load_contract

    work = tmp_path_factory.mktemp("deploy")
    for graph in export_dir.glob("*.onnx"):
        (work / graph.name).symlink_to(graph)
    doc = json.loads((export_dir / "deploy.json").read_text())
    seed = (export_dir / "deploy.json").read_bytes()

    @FUZZ
    @given(st.one_of(edited_json(doc), mutated(seed)))
    def check(data: bytes) -> None:
        (work / "deploy.json").write_bytes(data)
        parses_or_masktrt_error(load_contract, work)

    check()


# ------------------------------------------------------------------------- engine metadata
META = {"schema": "masktrt.engine/2", "name": "template", "engine_file": "template.engine",
        "engine_bytes": 3, "engine_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "tensorrt": {"module": "tensorrt_rtx", "version": "1.2"}, "graphs": ["template", "search"],
        "targets": {"compute_capabilities": ["8.6"]}, "rebuild": "masktrt build --onnx x"}


def test_fuzz_engine_metadata(tmp_path_factory):
    from masktrt.runtime.engine_loader import folder_graphs, read_metadata

    work = tmp_path_factory.mktemp("engines")
    (work / "template.engine").write_bytes(b"abc")  # the sha256 above

    @FUZZ
    @given(st.one_of(edited_json(META), mutated(json.dumps(META).encode())))
    def check(data: bytes) -> None:
        (work / "template.json").write_bytes(data)
        parses_or_masktrt_error(read_metadata, work / "template.engine")
        parses_or_masktrt_error(folder_graphs, work)

    check()


@pytest.mark.parametrize("file", ["../template.engine", "/tmp/template.engine", "sub/t.engine", ".."])
def test_engine_metadata_names_only_a_file_in_its_folder(tmp_path, file):
    from masktrt.runtime.engine_loader import read_metadata

    (tmp_path / "template.engine").write_bytes(b"abc")
    (tmp_path / "template.json").write_text(json.dumps({**META, "engine_file": file}))
    with pytest.raises(MasktrtError, match="engine_file"):
        read_metadata(tmp_path / "template.engine")


def test_engine_metadata_with_a_key_given_twice_is_refused(tmp_path):
    from masktrt.runtime.engine_loader import read_metadata

    (tmp_path / "template.engine").write_bytes(b"abc")
    text = json.dumps(META)
    (tmp_path / "template.json").write_text('{"name": "search", ' + text[1:])
    with pytest.raises(MasktrtError, match="not readable JSON"):
        read_metadata(tmp_path / "template.engine")


# ------------------------------------------------------------------------- ground truth
def test_fuzz_groundtruth(tmp_path_factory):
    from masktrt.runtime.sequences import load_sequence

    work = tmp_path_factory.mktemp("seq")
    (work / "frames").mkdir()
    for i in range(3):
        cv2.imwrite(str(work / "frames" / f"{i:05d}.png"), np.zeros((24, 32, 3), np.uint8))
    seed = b"1,2,10,8\n2,3,10,8\n3,4,10,8\n"

    @FUZZ
    @given(mutated(seed))
    def check(data: bytes) -> None:
        (work / "groundtruth.txt").write_bytes(data)
        parses_or_masktrt_error(lambda: load_sequence(work).init_box())

    check()


def test_fuzz_predictions(tmp_path_factory):
    from masktrt.runtime.outputs import load_predictions

    work = tmp_path_factory.mktemp("pred")
    (work / "boxes.txt").write_text("1,2,3,4\n" * 3)
    seed = b"1.000000,0,0,0\n0.5,1,0,0\n0.1,1,1,0\n"

    @FUZZ
    @given(mutated(seed))
    def check(data: bytes) -> None:
        (work / "scores.txt").write_bytes(data)
        parses_or_masktrt_error(load_predictions, work, ["a", "b", "c"])

    check()


# ------------------------------------------------------------------------- frames
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_fuzz_frames(suffix, tmp_path_factory):
    from masktrt.runtime.frames import read_frame
    from masktrt.runtime.trackers.checks import check_frame

    work = tmp_path_factory.mktemp("frames")
    frame = np.random.default_rng(0).integers(0, 255, (16, 20, 3), dtype=np.uint8)
    seed = cv2.imencode(suffix, frame)[1].tobytes()

    @FUZZ
    @given(mutated(seed))
    def check(data: bytes) -> None:
        path = work / f"f{suffix}"
        path.write_bytes(data)
        parses_or_masktrt_error(lambda: check_frame(read_frame(path)))

    check()


# ------------------------------------------------------------------------- checkpoints
TINY = {"features.features.conv1.weight": (4, 3, 3, 3), "rpn_model.cls.head.3.bias": (10,)}
# Each tracker's checkpoint reader and a tiny state dict it accepts (its key markers present).
READERS = {
    "siammask": ("masktrt.trackers.siammask.export.checkpoint", "read_state_dict", TINY),
    "oceanplus": ("masktrt.trackers.oceanplus.export.checkpoint", "read_state_dict",
                  {"mask_model.sequential.0.weight": (4, 3, 3, 3), "neck.bias": (4,)}),
    "rts": ("masktrt.trackers.rts.export.checkpoint", "read_checkpoint",
            {"target_model.filter": (2, 4), "label_encoder.w": (3,), "clf_encoder.b": (2, 2)}),
}


def checkpoint_seed(torch, state: dict, kind: str, work: Path) -> bytes:
    """A valid file of `kind`: a torch pickle, pytracking's {'net', 'constructor'} pickle, or
    safetensors with masktrt's checksum."""
    from safetensors.torch import save

    from masktrt.export.checkpoints import CHECKSUM_KEY, safetensors_data

    if kind == "safetensors":
        import hashlib

        digest = hashlib.sha256(safetensors_data(save(state))[1]).hexdigest()
        return save(state, metadata={CHECKSUM_KEY: digest})
    torch.save({"net": state, "constructor": None} if kind == "pytracking" else state,
               work / "seed.pth")
    return (work / "seed.pth").read_bytes()


@pytest.mark.parametrize("tracker,kind", [(t, k) for t in READERS for k in ("pth", "safetensors")]
                         + [("rts", "pytracking")])
def test_fuzz_checkpoints(tracker, kind, tmp_path_factory):
    """Every tracker's checkpoint reader (issue 29.3: OceanPlus's and RTS's too)."""
    import importlib

    torch = pytest.importorskip("torch")
    module, function, shapes = READERS[tracker]
    read = getattr(importlib.import_module(module), function)
    work = tmp_path_factory.mktemp("ckpt")
    seed = checkpoint_seed(torch, {k: torch.randn(shape) for k, shape in shapes.items()}, kind, work)
    path = work / f"c.{'safetensors' if kind == 'safetensors' else 'pth'}"
    path.write_bytes(seed)
    assert len(read(path)) == len(shapes)  # the seed itself is accepted: mutations start valid

    @FUZZ
    @given(mutated(seed))
    def check(data: bytes) -> None:
        path.write_bytes(data)
        parses_or_masktrt_error(read, path)

    check()


def test_a_zip_claiming_several_disks_is_refused(tmp_path):
    """Found by the fuzzer: zipfile.is_zipfile raises (instead of answering) on a ZIP64 locator
    that names a second disk, so the check itself must sit inside the error handling."""
    import struct

    from masktrt.trackers.siammask.export.checkpoint import read_state_dict

    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, tmp_path / "seed.pth")
    data = (tmp_path / "seed.pth").read_bytes()
    end = data.rindex(b"PK\x05\x06")
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 1, 0, 2)  # disk 1 of 2
    (tmp_path / "disks.pth").write_bytes(data[:end] + locator + data[end:])
    with pytest.raises(MasktrtError, match="damaged zip"):
        read_state_dict(tmp_path / "disks.pth")


def test_flipped_bytes_in_checkpoints_are_refused(tmp_path):
    """The integrity checks themselves: a zip's CRCs and masktrt's safetensors checksum."""
    torch = pytest.importorskip("torch")
    from masktrt.trackers.siammask.export.checkpoint import read_state_dict, save_checkpoint
    from tests.helpers.export_helpers import small_model

    model = small_model()
    torch.save(model.state_dict(), tmp_path / "m.pth")
    save_checkpoint(model, tmp_path / "m.safetensors")
    for name in ("m.pth", "m.safetensors"):
        read_state_dict(tmp_path / name)  # intact: loads
        data = bytearray((tmp_path / name).read_bytes())
        at = len(data) * 2 // 3
        data[at:at + 1024] = bytes(b ^ 0x5A for b in data[at:at + 1024])
        (tmp_path / f"bad-{name}").write_bytes(bytes(data))
        with pytest.raises(MasktrtError, match="corrupt|damaged"):
            read_state_dict(tmp_path / f"bad-{name}")


# ------------------------------------------------------------------------- checkpoint headers
def with_metadata(src: Path, dst: Path, change) -> Path:
    """A copy of a safetensors file whose header metadata `change` edited (the tensor bytes, and
    so their recorded checksum, stay as they were: only the header is crafted)."""
    blob = src.read_bytes()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    change(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + size:])
    return dst


RTS_HEADER_CASES = {
    "seed-not-a-number": lambda h: h["__metadata__"].update(seed="abc"),
    "seed-negative": lambda h: h["__metadata__"].update(seed="-1"),
    "seed-too-large": lambda h: h["__metadata__"].update(seed=str(2 ** 70)),
    "backbone-unknown": lambda h: h["__metadata__"].update(backbone="vgg"),
    "trained-empty": lambda h: h["__metadata__"].update(trained=""),
    "base-not-a-digest": lambda h: h["__metadata__"].update(base_sha256="zz"),
    "base-missing": lambda h: h["__metadata__"].pop("base_sha256"),
    "metadata-not-an-object": lambda h: h.update(__metadata__=["weights", "seeded_partial"]),
}


@pytest.mark.parametrize("case", sorted(RTS_HEADER_CASES))
def test_crafted_rts_checkpoint_headers_are_one_line(case, tmp_path):
    """The demo checkpoint's header, one value crafted: one MasktrtError (issue 29.3)."""
    from masktrt.export.model_source import load_tracker_model
    from masktrt.paths import demo_weights

    path = with_metadata(demo_weights("rts"), tmp_path / "rts.safetensors", RTS_HEADER_CASES[case])
    with pytest.raises(MasktrtError) as info:
        load_tracker_model("rts", path)
    assert "\n" not in str(info.value)
