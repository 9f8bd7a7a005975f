"""Every numeric option is range-checked where it is parsed (issue 29.6).

The test walks the real `masktrt` parser: no option may take a bare int/float (those accept 0,
-5 and nan), and every typed option turns a value outside its range into one usage line, exit
code 2, before any command runs.
"""
from __future__ import annotations

import argparse

import pytest

from masktrt.arg_types import COUNT, FRACTION, POSITIVE, Number
from masktrt.cli import build_parser


def numeric_actions() -> list[tuple[str, argparse.Action]]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [(name, action) for name, parser in sub.choices.items() for action in parser._actions
            if action.type in (int, float) or isinstance(action.type, Number)]


def test_there_are_numeric_options_and_none_is_a_bare_int_or_float() -> None:
    found = numeric_actions()
    assert len(found) > 30, len(found)  # a walk that found nothing would pass the rest
    bare = [f"{name} {action.option_strings}" for name, action in found
            if action.type in (int, float)]
    assert not bare, bare


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "x"])
def test_out_of_range_values_are_one_usage_line(value, capsys) -> None:
    checked = 0
    for name, action in numeric_actions():
        if not action.option_strings:
            continue
        if action.type.within(0) and value == "0":
            continue  # 0 is allowed there (e.g. --seed 0, --threads 0 = all)
        argv = [name, action.option_strings[0], value]
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and err[0].startswith("error:"), (argv, err)
        assert action.option_strings[0] in err[0] or "argument" in err[0], err
        checked += 1
    assert checked > 10, checked


def test_every_default_lies_in_its_own_range() -> None:
    outside = [f"{name} {action.option_strings} {action.default!r}" for name, action in numeric_actions()
               if action.default is not None and not action.type.within(action.default)]
    assert not outside, outside


def test_the_ranges_read_as_intended() -> None:
    assert COUNT("3") == 3 and POSITIVE("0.25") == 0.25 and FRACTION("1") == 1.0
    for kind, text in [(COUNT, "0"), (COUNT, "2.5"), (POSITIVE, "0"), (POSITIVE, "-inf"),
                       (FRACTION, "1.01"), (FRACTION, "nan")]:
        with pytest.raises(argparse.ArgumentTypeError):
            kind(text)
