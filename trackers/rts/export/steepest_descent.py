"""Closed-form Gauss-Newton steepest descent for RTS's two linear learners (spec §B6).

The released optimiser (`GNSteepestDescent`) gets g = J^T r and J g from two
`torch.autograd.grad` calls, which no ONNX exporter can trace. Both residuals are linear in the
filter f (the hinge's activation slope is fixed per step by the sign of the scores), so one step
is explicit: e = (residual weight) * r, g = corr(x, e) + lambda^2 f, h = (weight) * (g applied to
x), alpha = ||g||^2 / max(||h||^2 + lambda^2 ||g||^2, 1e-8), f <- f - alpha g. A step is a pure
function of (filter, memory), so a graph unrolls a fixed number of them, or a runtime loops one.
Memories are batches of samples; zero-weight samples contribute nothing, so padding to a fixed
size is exact. Filter application and its adjoint are plain convolutions here (the "features as
batch" form), or MatMul + shifted slices (`MATMUL`, spec §B6): the same sums with no
tensor-weight convolution, for runtimes whose Conv is slow or absent with a kernel that is an
input (ONNX Runtime's CPU Conv spends 98 % of a seg update on the gradient's 30x52 "kernel").
`Filtering` carries the pair, chosen per export; the reference uses `CONV`.
"""
from __future__ import annotations

import operator
from functools import reduce
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from masktrt.trackers.rts.spec import HINGE_LEAK, HINGE_THRESHOLD, STEP_DENOMINATOR_MIN


def apply_filter(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """x NxCxHxW, f KxCxkxk -> NxKxH'xW', padding k//2 (3x3 keeps the size, 4x4 grows it by 1)."""
    return F.conv2d(x, f, padding=f.shape[-1] // 2)


def filter_gradient(x: torch.Tensor, e: torch.Tensor, k: int) -> torch.Tensor:
    """Adjoint of `apply_filter` in f: sum over samples and positions of e * shifted x (KxCxkxk)."""
    grad = F.conv2d(x.transpose(0, 1), e.transpose(0, 1), padding=k // 2)
    return grad.transpose(0, 1)


def static(shape: torch.Size) -> tuple[int, ...]:
    """Shapes as Python ints: a traced graph's shapes are fixed, and the slicing needs ints."""
    return tuple(int(v) for v in shape)


def taps_matmul(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Every tap of f applied at every position: N x (k*k*K) x H x W, tap-major, one MatMul."""
    n, c, h, w = static(x.shape)
    k_out, k = static(f.shape)[0], static(f.shape)[-1]
    weights = f.permute(2, 3, 0, 1).reshape(k * k * k_out, c)
    return torch.matmul(weights, x.reshape(n, c, h * w)).reshape(n, k * k * k_out, h, w)


def apply_filter_matmul(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """`apply_filter` as one MatMul, then the k*k tap maps (K channels each) shifted and added."""
    k_out, k = static(f.shape)[0], static(f.shape)[-1]
    pad = k // 2
    h, w = static(x.shape)[-2:]
    h_out, w_out = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    taps = F.pad(taps_matmul(x, f), (pad, pad, pad, pad))
    parts = [taps[:, (a * k + b) * k_out:(a * k + b + 1) * k_out, a:a + h_out, b:b + w_out]
             for a in range(k) for b in range(k)]
    return reduce(operator.add, parts)


def filter_gradient_matmul(x: torch.Tensor, e: torch.Tensor, k: int) -> torch.Tensor:
    """`filter_gradient` as k*k shifted copies of e (on x's grid) and one batched MatMul with x;
    only e (K channels) is shifted or transposed, never the 512-channel memory."""
    n, c, h, w = static(x.shape)
    k, k_out = int(k), static(e.shape)[1]
    pad = k - 1 - k // 2
    padded = F.pad(e, (pad, pad, pad, pad))
    shifted = torch.cat([padded[:, :, k - 1 - a:k - 1 - a + h, k - 1 - b:k - 1 - b + w]
                         for a in range(k) for b in range(k)], dim=1)
    columns = shifted.reshape(n, k * k * k_out, h * w).transpose(1, 2)
    grad = torch.matmul(x.reshape(n, c, h * w), columns)  # n x c x (k*k*K)
    return grad.sum(dim=0).reshape(c, k, k, k_out).permute(3, 0, 1, 2)


class Filtering(NamedTuple):
    """How a filter meets features: its application and the application's adjoint in f."""

    apply: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    gradient: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


CONV = Filtering(apply_filter, filter_gradient)
MATMUL = Filtering(apply_filter_matmul, filter_gradient_matmul)


def sq_norm(t: torch.Tensor) -> torch.Tensor:
    return (t * t).sum()


def descend(f: torch.Tensor, g: torch.Tensor, h: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """The step with the GN step length; reg's part of ||Jg||^2 is lambda^2 ||g||^2."""
    gg = sq_norm(g)
    alpha = gg / torch.clamp(sq_norm(h) + reg * reg * gg, min=STEP_DENOMINATOR_MIN)
    return f - alpha * g


def seg_step(f: torch.Tensor, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
             reg: torch.Tensor, ops: Filtering = CONV) -> torch.Tensor:
    """One step on sum ||w (f*x - y)||^2 + ||reg f||^2; x Nx512x30x52, y/w Nx16x30x52."""
    e = w * w * (ops.apply(x, f) - y)
    g = ops.gradient(x, e, f.shape[-1]) + reg * reg * f
    return descend(f, g, w * ops.apply(x, g), reg)


def hinge_mask(y: torch.Tensor) -> torch.Tensor:
    """m = min(1, [y > 0.05] + 0.1): 1 on the target, the leak elsewhere."""
    return torch.clamp((y > HINGE_THRESHOLD).to(y.dtype) + HINGE_LEAK, max=1.0)


def leaky_par(s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """LeakyReluPar: (1-m)/2 |s| + (1+m)/2 s (identity where m = 1, leaky ReLU elsewhere)."""
    return (1 - m) / 2 * torch.abs(s) + (1 + m) / 2 * s


def leaky_par_slope(s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """d leaky_par / ds, with sign(0) = 0 as autograd's |s| has."""
    return (1 - m) / 2 * torch.sign(s) + (1 + m) / 2


def clf_step(f: torch.Tensor, x: torch.Tensor, y: torch.Tensor, sw: torch.Tensor,
             reg: float, ops: Filtering = CONV) -> torch.Tensor:
    """One step on sum ||sqrt(sw) (act(f*x) - m y)||^2 + ||reg f||^2; x Mx512x15x26, y Mx1x16x27."""
    root = torch.sqrt(sw).reshape(-1, 1, 1, 1)
    s, m = ops.apply(x, f), hinge_mask(y)
    slope = root * leaky_par_slope(s, m)
    e = slope * root * (leaky_par(s, m) - m * y)
    g = ops.gradient(x, e, f.shape[-1]) + reg * reg * f
    return descend(f, g, slope * ops.apply(x, g), torch.as_tensor(reg, dtype=f.dtype))


def seg_learn(f: torch.Tensor, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
              reg: torch.Tensor, iters: int, ops: Filtering = CONV) -> torch.Tensor:
    """`iters` steps unrolled (20 at init, 3 per update)."""
    for _ in range(iters):
        f = seg_step(f, x, y, w, reg, ops)
    return f


def clf_learn(f: torch.Tensor, x: torch.Tensor, y: torch.Tensor, sw: torch.Tensor,
              reg: float, iters: int, ops: Filtering = CONV) -> torch.Tensor:
    """`iters` steps unrolled (10 at init, 2 per update)."""
    for _ in range(iters):
        f = clf_step(f, x, y, sw, reg, ops)
    return f
