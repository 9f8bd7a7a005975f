"""Named blocks of the exported graphs: the unit of sensitivity analysis and of `--keep`.

A block is a group of ONNX nodes that belong to one part of the model (spec names): the trunk's
stem and layer1..3, the adjust layer, each head's conv_kernel / conv_search / correlation / head,
and Refine's v*, h*, deconv and post* convolutions ("glue": its pads, gathers, adds) for
SiamMask; the neck, each child of the Ocean head and of the mask decoder for OceanPlus. Names are
qualified by graph ("search:cls.corr") because the trunk appears in both the template and the search graph and the
two can fail differently (the template runs once, the search crop every frame).

The grouping reads the node names the exporter writes (PyTorch module paths, e.g.
"/cls/conv_search/conv_search.0/Conv"), so it needs no side table that could drift from the model.
"""
from __future__ import annotations

from collections import defaultdict

import onnx

_STEM = ("conv1", "relu", "maxpool", "bn1")
_HEAD_PARTS = ("conv_kernel", "conv_search", "head")
# top-level modules whose children are blocks of their own (OceanPlus's head and mask decoder)
TWO_LEVEL = ("connect_model", "mask_model")


def _trunk(parts: list[str]) -> str:
    if len(parts) > 1 and parts[1] == "downsample":
        return "adjust"
    sub = parts[2] if len(parts) > 2 else parts[-1]
    return "stem" if sub in _STEM else sub  # layer1..layer3


def block_of(node_name: str) -> str:
    """The block (without graph prefix) a node of an exported SiamMask graph belongs to."""
    parts = [p for p in node_name.split("/") if p]
    if not parts:
        return "other"
    top = parts[0]
    if top == "features":
        return _trunk(parts)
    if top in ("cls", "loc"):
        return f"{top}.{parts[1]}" if len(parts) > 2 and parts[1] in _HEAD_PARTS else f"{top}.corr"
    if top in ("conv_kernel", "conv_search"):
        return top if top == "conv_kernel" else "mask.conv_search"
    if top == "refine_model":
        return parts[1] if len(parts) > 2 else "glue"  # v0..2, h0..2, deconv, post0..2
    if top in TWO_LEVEL and len(parts) > 2:
        return f"{top}.{parts[1]}"  # e.g. OceanPlus's connect_model.cls_tower, mask_model.b1
    return "mask.corr" if len(parts) == 1 else top  # '/Conv', '/Reshape_1': the mask branch


def graph_blocks(graph: str, model: onnx.ModelProto) -> dict[str, list[str]]:
    """{"graph:block": [node names]} in first-appearance order."""
    blocks: dict[str, list[str]] = defaultdict(list)
    for node in model.graph.node:
        blocks[f"{graph}:{block_of(node.name)}"].append(node.name)
    return dict(blocks)


def resolve(names: list[str], known: dict[str, list[str]]) -> list[str]:
    """Expand user block names: 'search:cls.corr' exactly, or 'cls.corr' in every graph."""
    from masktrt.errors import MasktrtError

    chosen: list[str] = []
    for name in names:
        matches = [b for b in known if b == name or b.split(":", 1)[1] == name]
        if not matches:
            raise MasktrtError(f"unknown block '{name}' for --keep",
                               f"choose from: {', '.join(known)} (or auto, none)")
        chosen += [m for m in matches if m not in chosen]
    return chosen
