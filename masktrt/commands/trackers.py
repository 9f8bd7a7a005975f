"""List the registered trackers: summary, presets, default preset, graphs and export options.

Everything printed comes from each tracker's spec (pure data), so this works on a runtime-only
install and shows exactly the names every shared layer (exporter, contract, runners) uses.
"""
from __future__ import annotations

import argparse
from typing import Any

HELP = "list the registered trackers with their presets, graphs and export options"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default=None, help="show only this tracker")


def run(args: argparse.Namespace) -> int:
    from masktrt import registry

    names = [args.name] if args.name else list(registry.names())
    print("\n\n".join(describe(registry.spec(name)) for name in names))
    return 0


def describe(spec: Any) -> str:
    """The block printed for one tracker spec."""
    lines = [f"{spec.name}: {spec.summary}", "  presets:"]
    lines += [f"    {name}{' (default)' if name == spec.default_preset else ''}: "
              f"{_values(preset)}" for name, preset in spec.presets.items()]
    lines.append(f"  default preset: {spec.default_preset}")
    lines.append("  graphs:")
    lines += [f"    {g.name} (runs once per {g.runs}{_group(g)}): {', '.join(g.inputs)} -> "
              f"{', '.join(g.outputs)}" for g in spec.graphs]
    options = ", ".join(f"{k}={v}" for k, v in spec.options.items()) or "none"
    lines.append(f"  export options (defaults): {options}")
    lines.append(f"  model variants: {', '.join(spec.variants) or 'none'}")
    lines.append(f"  demo checkpoint: {spec.demo_weights or 'none shipped'}")
    return "\n".join(lines)


def _group(graph: Any) -> str:
    return f"; one of group '{graph.group}', opened on first use" if graph.group else ""


def _values(preset: Any) -> str:
    values = preset.to_dict() if hasattr(preset, "to_dict") else dict(vars(preset))
    return ", ".join(f"{k}={v}" for k, v in values.items() if k != "name")
