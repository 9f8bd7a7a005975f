"""The released optimiser's arithmetic with autograd: the reference the closed form must match.

Reproduces `GNSteepestDescent` (steplength_reg 0) over `RTSResidual` / `LinearFilterHinge`:
residuals [data ; reg * f], g = J^T r through a dummy vector u, J g as the gradient of g in u,
alpha = ||g||^2 / max(||Jg||^2, 1e-8). It is written on plain tensors (the release's TensorList
path fails on recent PyTorch, appendix 7) and is never exported: tests and parity only.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from masktrt.trackers.rts.export.steepest_descent import (
    apply_filter,
    hinge_mask,
    leaky_par,
)

from masktrt.trackers.rts.spec import STEP_DENOMINATOR_MIN

Residual = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def gn_step(f: torch.Tensor, residual: Residual) -> torch.Tensor:
    """One step with the two autograd passes of the release."""
    with torch.enable_grad():
        f = f.detach().requires_grad_(True)
        r = residual(f)
        u = tuple(part.detach().clone().requires_grad_(True) for part in r)
        g = torch.autograd.grad(r, f, u, create_graph=True)[0]
        jg = torch.autograd.grad(g, u, g)
        gg = (g * g).sum()
        hh = sum((part * part).sum() for part in jg)
        alpha = gg / torch.clamp(hh, min=STEP_DENOMINATOR_MIN)
        return (f - alpha * g).detach()


def seg_residual(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, reg: torch.Tensor) -> Residual:
    return lambda f: (w * (apply_filter(x, f) - y), reg * f.reshape(1, -1))


def clf_residual(x: torch.Tensor, y: torch.Tensor, sw: torch.Tensor, reg: float) -> Residual:
    root, m = torch.sqrt(sw).reshape(-1, 1, 1, 1), hinge_mask(y)
    return lambda f: (root * (leaky_par(apply_filter(x, f), m) - m * y), reg * f.reshape(1, -1))


def learn(f: torch.Tensor, residual: Residual, iters: int) -> torch.Tensor:
    for _ in range(iters):
        f = gn_step(f, residual)
    return f
