"""`masktrt trackers` prints the registry from the specs: presets, graphs, export options."""
from dataclasses import dataclass

from masktrt import registry
from masktrt.cli import main
from masktrt.specs.base import PER_TARGET, GraphDecl, Preprocessing, TrackerSpec


def test_lists_siammask_with_presets_graphs_and_options(capsys):
    assert main(["trackers"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("siammask: SiamMask")
    for preset in ("davis (default): seg_thr=0.35", "vot: seg_thr=0.3", "vot18: seg_thr=0.15"):
        assert preset in out
    assert "default preset: davis" in out
    assert "template (runs once per target): z -> k_cls, k_loc, k_mask" in out
    assert "search (runs once per frame): x, k_cls, k_loc, k_mask -> cls, loc, corr, p0, p1, p2" in out
    assert "refine (runs once per frame): p0, p1, p2, corr, pos -> mask" in out
    assert "export options (defaults): correlation=dynamic" in out


@dataclass(frozen=True)
class ToyPreset:
    name: str
    gain: float

    def to_dict(self) -> dict:
        return {"name": self.name, "gain": self.gain}


TOY = TrackerSpec(name="toy", summary="two tiny graphs",
                  graphs=(GraphDecl("embed", ("img",), ("feat",), runs=PER_TARGET),
                          GraphDecl("match", ("img", "feat"), ("heat",))),
                  presets={"fast": ToyPreset("fast", 2.0)}, default_preset="fast",
                  preprocessing=Preprocessing())


def test_a_registered_tracker_is_listed_and_selectable_by_name(capsys):
    registry.register(registry.TrackerEntry("toy", spec=f"{__name__}:TOY", runtime="x:y",
                                            export="x:z"))
    try:
        assert main(["trackers"]) == 0
        out = capsys.readouterr().out
        assert "toy: two tiny graphs" in out and "fast (default): gain=2.0" in out
        assert "embed (runs once per target): img -> feat" in out
        assert "export options (defaults): none" in out
        assert main(["trackers", "toy"]) == 0
        assert capsys.readouterr().out.startswith("toy:")
    finally:
        registry.unregister("toy")


def test_an_unknown_name_is_a_one_line_error(capsys):
    assert main(["trackers", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown tracker 'nope'") and "\n" not in err
