"""RTS's graphs run in PyTorch in the order the tracker runs them, each fed PyTorch's outputs.

Init on the first crop (STA on it with the box a scale-4 crop would hold; features, the 5
augmented classifier crops, the label of the target's soft mask, 20 seg steps from zero, PrRoIPool then 10 clf steps), then per later crop: features,
head with the learned filters, the predicted soft mask encoded and inserted, 3 seg and 2 clf
update steps. Tracing takes each graph's first feeds; tensor parity compares every case, so an
ONNX graph always gets exactly the inputs PyTorch computed for it and an error is charged to the
graph that made it. A generator, because one full-size case holds ~200 MB of memories.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from masktrt.trackers.rts.export.inputs import (augmented5, augmented_boxes, clf_label, clf_memory,
                                              seg_memory, sigmoid, soft_mask, target_box)
from masktrt.trackers.rts.spec import (CLF_FILTER, CLF_FILTER_OUT, CLF_INIT_FEAT, CLF_LEARN_GRAPHS,
                               CLF_MEM, CLF_POOL_IN5, CLF_X, CLF_X5, FEAT, FEATURES, FULL_SIZES,
                               HEAD, IM, IM5, LABEL, LABEL_ENC, LABEL_W, MASK, MASK_LOGITS,
                               SEG_FILTER, SEG_FILTER_OUT, SEG_LEARN_GRAPHS, SEG_MEM, SEG_X, SPEC,
                               STA, BOX, GraphSizes, TrackerConfig, learn_iterations,
                               tensor_shapes)

Arrays = dict[str, np.ndarray]
Case = tuple[str, str, Arrays, Arrays]  # (case label or "", graph, feeds, reference outputs)


def entry_point(model: nn.Module, graph: str) -> Callable[..., object]:
    """The model's pure function behind `graph` (learners: the closed form, `iters` bound)."""
    if graph in SEG_LEARN_GRAPHS:
        return partial(model.seg_learn, iters=learn_iterations(graph))
    if graph in CLF_LEARN_GRAPHS:
        return partial(model.clf_learn, iters=learn_iterations(graph))
    return {FEAT: model.features, CLF_INIT_FEAT: model.clf_init_features, HEAD: model.head,
            LABEL_ENC: model.encode_label, STA: model.box_init}[graph]


def run_torch(model: nn.Module, graph: str, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Outputs by name of `graph`'s entry point on `feeds` (torch in, torch out)."""
    inputs, outputs = SPEC.io_names(graph)
    with torch.no_grad():
        result = entry_point(model, graph)(*(feeds[n] for n in inputs))
    result = result if isinstance(result, (tuple, list)) else (result,)
    return dict(zip(outputs, result))


def run_numpy(model: nn.Module, graph: str, feeds: Arrays) -> Arrays:
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()}
    return {k: v.numpy() for k, v in run_torch(model, graph, tensors).items()}


def clf_init_filter(model: nn.Module, pool_in5: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The host's PrRoIPool initial filter (the reference implementation)."""
    with torch.no_grad():
        return model.clf_init_filter(torch.from_numpy(pool_in5), torch.from_numpy(boxes)).numpy()


class TrackerChain:
    """The memories and filters of one target while the chain runs."""

    def __init__(self, model: nn.Module, sizes: GraphSizes) -> None:
        self.model, self.sizes = model, sizes
        self.box = target_box(sizes.crop_hw)
        self.seg: tuple[list, list, list] = ([], [], [])
        self.clf_x, self.clf_y = [], []
        self.seg_filter = self.clf_filter = None

    def case(self, graph: str, feeds: Arrays, label: str = "") -> Case:
        return label, graph, feeds, run_numpy(self.model, graph, feeds)

    def insert_seg(self, seg_x: np.ndarray, encoded: Arrays) -> None:
        for memory, value in zip(self.seg, (seg_x, encoded[LABEL], encoded[LABEL_W])):
            memory.append(value)

    def seg_feeds(self, start: np.ndarray) -> Arrays:
        return {SEG_FILTER: start, **dict(zip(SEG_MEM, seg_memory(*self.seg, sizes=self.sizes)))}

    def clf_feeds(self, start: np.ndarray) -> Arrays:
        memory = clf_memory(np.concatenate(self.clf_x), np.concatenate(self.clf_y), self.sizes)
        return {CLF_FILTER: start, **dict(zip(CLF_MEM, memory))}

    def learn(self, seg_graph: str, clf_graph: str, label: str = "") -> Iterator[Case]:
        seg = self.case(seg_graph, self.seg_feeds(self.seg_filter))
        self.seg_filter = seg[3][SEG_FILTER_OUT]
        clf = self.case(clf_graph, self.clf_feeds(self.clf_filter), label)
        self.clf_filter = clf[3][CLF_FILTER_OUT]
        yield seg
        yield clf

    def init(self, im: np.ndarray) -> Iterator[Case]:
        """Frame 0: STA, features, labels, the classifier's init samples, both init learners."""
        sta_box = target_box(self.sizes.crop_hw, TrackerConfig().sta_search_area_scale)
        yield self.case(STA, {IM: im, BOX: np.trunc(sta_box)[None]})
        feat = self.case(FEAT, {IM: im})
        init = self.case(CLF_INIT_FEAT, {IM5: augmented5(im)})
        encoded = self.case(LABEL_ENC, {MASK: soft_mask(self.sizes.crop_hw, self.box)})
        yield from (feat, init, encoded)
        self.insert_seg(feat[3][SEG_X], encoded[3])
        boxes = augmented_boxes(self.box, self.sizes.crop_hw)
        self.clf_x.append(init[3][CLF_X5])
        self.clf_y.append(np.concatenate([clf_label(b, self.sizes.crop_hw) for b in boxes]))
        self.seg_filter = np.zeros(tensor_shapes(SEG_LEARN_GRAPHS[0])[SEG_FILTER], np.float32)
        self.clf_filter = clf_init_filter(self.model, init[3][CLF_POOL_IN5], boxes)
        yield from self.learn(SEG_LEARN_GRAPHS[0], CLF_LEARN_GRAPHS[0])

    def track(self, im: np.ndarray, label: str = "") -> Iterator[Case]:
        """A later frame: features, head, the predicted soft mask inserted, both updates."""
        feat = self.case(FEAT, {IM: im})
        head_feeds = {**{n: feat[3][n] for n in FEATURES}, SEG_FILTER: self.seg_filter,
                      CLF_FILTER: self.clf_filter}
        head = self.case(HEAD, head_feeds)
        encoded = self.case(LABEL_ENC, {MASK: sigmoid(head[3][MASK_LOGITS])})
        yield from (feat, head, encoded)
        self.insert_seg(feat[3][SEG_X], encoded[3])
        self.clf_x.append(feat[3][CLF_X])
        self.clf_y.append(clf_label(self.box, self.sizes.crop_hw))
        yield from self.learn(SEG_LEARN_GRAPHS[1], CLF_LEARN_GRAPHS[1], label)



def tracker_cases(model: nn.Module, crops: list[np.ndarray],
                  sizes: GraphSizes = FULL_SIZES) -> Iterator[Case]:
    """Every graph's cases on `crops` (1x3xHxW BGR 0..255 each): init on the first, track on
    the others (on the first again when it is the only one, so every graph is covered)."""
    chain = TrackerChain(model.eval(), sizes)
    yield from chain.init(crops[0])
    later = crops[1:] or crops[:1]
    for i, im in enumerate(later):
        yield from chain.track(im, label=str(i))


def first_feeds(model: nn.Module, crops: list[np.ndarray], sizes: GraphSizes) -> dict[str, Arrays]:
    """Each graph's first feeds in the chain: what the exporter traces with."""
    feeds: dict[str, Arrays] = {}
    for _, graph, graph_feeds, _ in tracker_cases(model, crops, sizes):
        feeds.setdefault(graph, graph_feeds)
    return feeds
