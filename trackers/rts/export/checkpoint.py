"""Loading RTS checkpoints, including the released pytracking pickles, without running code.

pytracking saves `{'epoch', 'actor_type', 'net_type', 'net': state_dict, 'net_info',
'constructor': NetConstructor, 'optimizer', 'stats', 'settings'}` (spec §B5, appendix 5); the
`ltr.admin` objects make plain `torch.load(weights_only=True)` refuse the file. This module keeps
weights_only=True and allows exactly the `ltr.admin` class names such a file can hold, each
mapped to an inert stand-in (`Inert`: no methods, attributes only), through torch's
`safe_globals` name mapping; any other global (a function, `os.system`, another package's class)
is still refused by torch's unpickler and reported in one line. The stored constructor's
arguments, after the load overrides of `parameter/rts/rts50.py`, must equal the ones this
network is built with. Also accepted: a flat state dict, `{'state_dict': ...}`, a `module.`
prefix and `.safetensors` files. Every key must fit unless `strict=False`.

The STA box-initialisation network (`sta.pth.tar`, same pickled layout) loads the same way
(`load_sta`), its constructor checked against the manifest's inferred arguments
(`trackers.rts.spec.STA_CONSTRUCTOR_KWARGS`); each loader names the other's file when given it. A
deployment from `rts50.pth` takes STA from `sta.pth.tar` in the same folder (pytracking's
networks folder holds both), `sta_path`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from masktrt.export.checkpoints import (copy_weights, is_safetensors, key_report, read_pickle,
                                        read_safetensors, unwrap)
from masktrt.trackers.rts.export.network import RTS
from masktrt.trackers.rts.export.sta import STA

from masktrt.errors import MasktrtError
from masktrt.trackers.rts.spec import (
    CONSTRUCTOR_FUNCTION,
    CONSTRUCTOR_KWARGS,
    CONSTRUCTOR_MODULE,
    LOAD_OVERRIDES,
    STA_CONSTRUCTOR_FUNCTION,
    STA_CONSTRUCTOR_KWARGS,
    STA_CONSTRUCTOR_MODULE,
)

RELEASED, STA_RELEASED = "rts50.pth", "sta.pth.tar"
NET_KEY, CONSTRUCTOR_KEY = "net", "constructor"
RTS_PREFIXES = ("target_model.", "label_encoder.", "clf_encoder.")  # all three: RTS, not LWL/STA
STA_MARKER = "target_model_segm."  # only the STA box-init network has it
STA_PREFIXES = (STA_MARKER, "bbox_encoder.", "segm_encoder.")
RTS_CONSTRUCTOR = (CONSTRUCTOR_MODULE, CONSTRUCTOR_FUNCTION, CONSTRUCTOR_KWARGS, LOAD_OVERRIDES)
STA_CONSTRUCTOR = (STA_CONSTRUCTOR_MODULE, STA_CONSTRUCTOR_FUNCTION, STA_CONSTRUCTOR_KWARGS, {})
SHOWN = 3


class Inert:
    """Stand-in for a pickled `ltr.admin` object: its attributes, and nothing that runs."""


# exactly the ltr.admin classes a pytracking training checkpoint pickles (base_trainer.py)
LTR_NAMES = ("ltr.admin.model_constructor.NetConstructor", "ltr.admin.settings.Settings",
             "ltr.admin.stats.AverageMeter", "ltr.admin.stats.StatValue",
             "ltr.admin.local.EnvironmentSettings")


def stand_ins() -> list[tuple[type, str]]:
    return [(type(name.rsplit(".", 1)[1], (Inert,), {}), name) for name in LTR_NAMES]


def read_pytracking_pickle(path: Path) -> object:
    """torch.load(weights_only=True) with the ltr.admin names mapped to `Inert` stand-ins."""
    if not hasattr(torch.serialization, "safe_globals"):
        raise MasktrtError("reading pytracking checkpoints needs PyTorch 2.5 or newer (safe_globals)",
                           "pip install -U 'torch>=2.5', or re-save just checkpoint['net']")
    with torch.serialization.safe_globals(stand_ins()):
        return read_pickle(path)


def split_checkpoint(obj: object, path: Path) -> tuple[dict[str, torch.Tensor], object | None]:
    """(tensors, constructor or None) from a pytracking dict, a wrapper, or a flat state dict."""
    if isinstance(obj, Mapping) and isinstance(obj.get(NET_KEY), Mapping):
        net = {str(k): v for k, v in obj[NET_KEY].items() if isinstance(v, torch.Tensor)}
        return net, obj.get(CONSTRUCTOR_KEY)
    return unwrap(obj, path), None


def normalise(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Keys without `module.`; a file that is not RTS's (STA, LWL, another tracker) is one line."""
    renamed = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith(STA_MARKER) for k in renamed):
        raise MasktrtError(f"checkpoint '{path}' is the STA box-initialisation network, not RTS",
                           f"pass {RELEASED}; sta.pth.tar is loaded by the STA model")
    if not all(any(k.startswith(p) for k in renamed) for p in RTS_PREFIXES):
        sample = ", ".join(repr(k) for k in list(state)[:SHOWN])
        raise MasktrtError(f"checkpoint '{path}' is not an RTS checkpoint: it lacks the "
                           f"{', '.join(p + '*' for p in RTS_PREFIXES)} keys (e.g. {sample})",
                           f"pass pytracking's {RELEASED}")
    return renamed


def constructor_differences(constructor: object, expected: tuple = RTS_CONSTRUCTOR) -> list[str]:
    """'name: file vs here' for each stored constructor argument that differs from `expected`
    (module, function, kwargs, load overrides)."""
    module, function, kwargs, overrides = expected
    found = {"fun_module": getattr(constructor, "fun_module", None),
             "fun_name": getattr(constructor, "fun_name", None)}
    diffs = [f"{k}: {v!r} vs {w!r}" for (k, v), w in
             zip(found.items(), (module, function)) if not _same(v, w)]
    stored = getattr(constructor, "kwds", None)
    if stored is not None and not isinstance(stored, Mapping):
        return diffs + [f"kwds: a {type(stored).__name__}, not a mapping of arguments"]
    kwds = {**dict(stored or {}), **overrides}
    for key, ours in kwargs.items():
        theirs = kwds.get(key)
        if not _same(theirs, ours):
            diffs.append(f"{key}: {theirs!r} vs {ours!r}")
    return diffs


def _same(theirs: object, ours: object) -> bool:
    """Equal, tuples and lists alike. A crafted pickle may hold anything that weights_only
    admits (a tensor compared with a list has no truth value), so a comparison that fails
    counts as a difference, never as a traceback."""
    def plain(value: object) -> object:
        return list(value) if isinstance(value, (tuple, list)) else value

    try:
        return bool(plain(theirs) == plain(ours))
    except Exception:  # noqa: BLE001 - any failure to compare is "not the same"
        return False


def check_constructor(constructor: object | None, path: Path, expected: tuple = RTS_CONSTRUCTOR,
                      released: str = RELEASED) -> None:
    """A stored NetConstructor must describe this network (None: a plain state dict, skipped)."""
    if constructor is None:
        return
    diffs = constructor_differences(constructor, expected)
    if diffs:
        raise MasktrtError(f"checkpoint '{path}' was built with other constructor arguments "
                           f"(file vs masktrt): {'; '.join(diffs)}",
                           f"masktrt builds the released network only; pass {released}")


def normalise_sta(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """STA's keys without `module.`; an RTS (or any other) file is one line."""
    renamed = {k.removeprefix("module."): v for k, v in state.items()}
    if not all(any(k.startswith(p) for k in renamed) for p in STA_PREFIXES):
        what = "the RTS network" if any(k.startswith("clf_encoder.") for k in renamed) else \
            "not an STA checkpoint"
        raise MasktrtError(f"checkpoint '{path}' is {what}: it lacks the "
                           f"{', '.join(p + '*' for p in STA_PREFIXES)} keys",
                           f"pass pytracking's {STA_RELEASED} (box initialisation)")
    return renamed


def read_state(path: str | Path, released: str, expected: tuple) -> tuple[dict, Path]:
    """(tensors, path) of any accepted file, the stored constructor checked against `expected`."""
    path = Path(path)
    if not path.is_file():
        raise MasktrtError(f"checkpoint '{path}' does not exist",
                           f"pass the path of {released} (or a .safetensors/.pth state dict)")
    if is_safetensors(path):
        return read_safetensors(path), path
    state, constructor = split_checkpoint(read_pytracking_pickle(path), path)
    check_constructor(constructor, path, expected, released)
    return state, path


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Any accepted file -> RTS's state dict (constructor checked where the file has one)."""
    return normalise(*read_state(path, RELEASED, RTS_CONSTRUCTOR))


def read_sta_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """`sta.pth.tar` (or a state dict of it) -> STA's state dict, constructor checked."""
    return normalise_sta(*read_state(path, STA_RELEASED, STA_CONSTRUCTOR))


def apply_state_dict(model: RTS | STA, state: Mapping[str, torch.Tensor], strict: bool = True,
                     source: str = "state dict") -> RTS | STA:
    """Copy `state` into `model` (floats cast to its dtype) after the key check."""
    parts = key_report(model.state_dict(), state, strict)
    name, released = ("STA", STA_RELEASED) if isinstance(model, STA) else ("RTS", RELEASED)
    if parts:
        raise MasktrtError(f"{source} does not fit {name}: {'; '.join(parts)}",
                           f"pass {released} or a state dict of this network "
                           "(strict=False ignores missing/unexpected keys)")
    return copy_weights(model, state)


def load_checkpoint(path: str | Path, model: RTS | None = None, strict: bool = True) -> RTS:
    """Read `path` into `model` (a new RTS if None), in eval()."""
    state = read_checkpoint(path)
    return apply_state_dict(model or RTS(), state, strict, source=f"checkpoint '{path}'").eval()


def load_sta(path: str | Path, model: STA | None = None, strict: bool = True) -> STA:
    """Read `path` (`sta.pth.tar`) into `model` (a new STA if None), in eval()."""
    state = read_sta_checkpoint(path)
    return apply_state_dict(model or STA(), state, strict, source=f"checkpoint '{path}'").eval()


def sta_path(rts_checkpoint: str | Path) -> Path:
    """`sta.pth.tar` beside the RTS checkpoint: box-only starts need it (one line if absent)."""
    path = Path(rts_checkpoint).with_name(STA_RELEASED)
    if not path.is_file():
        raise MasktrtError(f"no {STA_RELEASED} beside '{rts_checkpoint}': RTS's box-only "
                           "initialisation (the exported 'sta' graph) needs the STA network",
                           f"put pytracking's {STA_RELEASED} in {path.parent}")
    return path
