"""The tensor-weight convolution strategy (export option `correlation`): check it suits this TensorRT.

`dynamic` feeds the kernel as an engine input (TensorRT 8.5+, TensorRT-RTX), `unrolled` computes
it from shifted slices (any TensorRT), `refit` bakes it into the engine as refittable weights
(any TensorRT). The strategy is fixed at export time and recorded in the contract's options, so a
build can only check it against the request and this TensorRT; trackers without the option have
nothing to check.
"""
from __future__ import annotations

from typing import Any, Mapping

from masktrt.errors import MasktrtError
from masktrt.runtime.trt_module import Flavour

OPTION = "correlation"  # the contract's export option that names the strategy
XCORR_CHOICES = ("auto", "dynamic", "unrolled", "refit")
# strategies every TensorRT builds: no convolution with an input as its weights
ANY_TENSORRT = ("unrolled", "refit")


def contract_xcorr(flavour: Flavour, requested: str, options: Mapping[str, Any],
                   onnx_dir: str = "DIR") -> tuple[str | None, str | None]:
    """(strategy, why) for a contract's options; (None, None) for graphs without the option."""
    exported = options.get(OPTION)
    if exported is None:
        if requested not in ("auto", None):
            raise MasktrtError(f"--xcorr {requested} was given, but the graphs in {onnx_dir} have no "
                               "correlation option", "drop --xcorr (or pass --xcorr auto)")
        return None, None
    return choose_xcorr(flavour, requested, str(exported), onnx_dir)


def choose_xcorr(flavour: Flavour, requested: str, exported: str,
                 onnx_dir: str = "DIR") -> tuple[str, str]:
    """Pick the correlation strategy; returns (strategy, sentence saying why).

    The strategy is fixed at export time, so the build can only check that the graphs in DIR
    suit the request and this TensorRT; a mismatch names the export command that fixes it.
    """
    if requested not in XCORR_CHOICES:
        raise MasktrtError(f"unknown --xcorr '{requested}'", f"choose one of: {', '.join(XCORR_CHOICES)}")
    who = f"{flavour.module} {flavour.version}"
    if requested == "auto":
        preferred = "dynamic" if flavour.dynamic_weights else "unrolled"
        if exported == preferred:
            return preferred, f"auto picked '{preferred}' for {who}"
        if exported in ANY_TENSORRT:  # accepted everywhere: use it, say what is better
            better = (f"; {who} also takes 'dynamic': masktrt export --xcorr dynamic --out {onnx_dir}"
                      if flavour.dynamic_weights else f" for {who}")
            return exported, f"auto picked '{exported}' (the graphs in {onnx_dir}){better}"
        requested = exported  # 'dynamic' on an old TensorRT: the check below explains
    if requested == "dynamic" and not flavour.dynamic_weights:
        raise MasktrtError(f"{who} cannot import a convolution whose weights are an input (needs "
                           f"TensorRT 8.5+)", f"export with: masktrt export --xcorr unrolled --out {onnx_dir} "
                           "(or --xcorr refit)")
    if exported != requested:
        raise MasktrtError(f"the graphs in {onnx_dir} were exported with --xcorr {exported}, not {requested}",
                           f"re-export with: masktrt export --xcorr {requested} --out {onnx_dir}")
    return requested, f"'{requested}' as asked"
