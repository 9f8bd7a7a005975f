"""A frame whose network outputs hold NaN or Inf is flagged lost and invalid, its box is the last
good one, the state is kept, and the next good frame tracks on from there (not from garbage)."""

import numpy as np
import pytest

from tests.helpers.fake_numpy_runners import FixedRunner, crafted_maps  # noqa: E402

from masktrt.runtime import loop  # noqa: E402
from masktrt.trackers.siammask.tracker import SiamMaskTracker  # noqa: E402
from masktrt.trackers.siammask.spec import preset  # noqa: E402

A = (2, 12, 14)


class Poisoned(FixedRunner):
    """A FixedRunner that writes `value` into output `which` on the frames listed in `bad`."""

    def __init__(self, which: str, value: float, bad: set[int]) -> None:
        cls, loc = crafted_maps({A: 3.0}, {A: (0.25, 0.0, 0.0, 0.0)})
        super().__init__(cls, loc, np.full((127, 127), 10.0, np.float32))
        self.which, self.value, self.bad, self.calls = which, value, bad, 0

    def search(self, x, kernels):
        out = super().search(x, kernels)
        self.calls += 1
        if self.calls in self.bad and self.which in ("cls", "loc"):
            getattr(out, self.which)[0, 0, 3, 3] = self.value
        return out

    def refine(self, features, pos):
        logits = super().refine(features, pos)
        if self.calls in self.bad and self.which == "mask":
            logits[5, 5] = self.value
        return logits


def frames(n=6):
    return [np.random.default_rng(i).integers(0, 255, (300, 400, 3), dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize("which,value", [("cls", np.nan), ("loc", np.inf), ("mask", np.nan)])
def test_nonfinite_frame_is_lost_invalid_and_state_is_kept(which, value):
    box = (150.0, 100.0, 60.0, 40.0)
    clean = loop.results(SiamMaskTracker(Poisoned(which, value, set()), preset("davis")), frames(), box)
    runner = Poisoned(which, value, {2, 3})  # track calls 2 and 3 = frames 2 and 3
    got = loop.results(SiamMaskTracker(runner, preset("davis")), frames(), box)
    for i in (2, 3):
        assert got[i].lost and got[i].score == 0.0 and got[i].invalid.startswith("nonfinite")
        np.testing.assert_allclose(got[i].xywh, got[1].xywh)  # the last good frame's box
        assert got[i].mask is not None and got[i].mask.max() == 0
        assert np.isfinite(got[i].polygon).all()
    assert got[1].invalid is None and got[4].invalid is None and not got[4].lost
    # frame 4 tracks from frame 1's state, i.e. where the clean run was after frame 2
    np.testing.assert_allclose(got[4].xywh, clean[2].xywh)


def test_summary_counts_invalid_frames():
    runner = Poisoned("cls", np.nan, {1})
    summary = loop.run(SiamMaskTracker(runner, preset("davis")), frames(4), (150, 100, 60, 40))
    assert summary.invalid == 1 and summary.lost >= 1


def test_finite_overflow_off_the_chosen_candidate_is_not_invalid():
    """exp(200) overflows a candidate's box to inf; that candidate is never chosen (its
    penalty is 0), so the frame is valid: only outputs that reach the result are judged."""
    runner = Poisoned("loc", 200.0, {1})
    got = loop.results(SiamMaskTracker(runner, preset("davis")), frames(3), (150, 100, 60, 40))
    assert got[1].invalid is None and np.isfinite(got[1].xywh).all()


class Overflowing(Poisoned):
    """Finite outputs whose every candidate's dw is 200: exp(200) overflows float32 to Inf."""

    def search(self, x, kernels):
        out = FixedRunner.search(self, x, kernels)
        out.loc[0, 10:15] = 200.0
        return out


def test_a_box_overflow_from_finite_outputs_is_labelled_overflow_not_nonfinite():
    """Deviation from the official SiamMask (README table): every candidate decodes to an
    infinite size, so the update 0 * Inf is NaN. The official tracker clips that NaN to the frame
    (Python's min(w, nan) is w) and goes on from a frame-sized box; masktrt keeps the last good
    box, marks the frame lost and invalid, and names the cause: not the network's outputs."""
    assert max(10, min(400, float("nan"))) == 400  # the official clip, for the record
    box = (150.0, 100.0, 60.0, 40.0)
    got = loop.results(SiamMaskTracker(Overflowing("loc", 0.0, set()), preset("davis")),
                       frames(3), box)
    for result in got[1:]:
        assert result.invalid == "overflow box" and result.lost and result.score == 0.0
        np.testing.assert_allclose(result.xywh, box)  # the last good box: the start box
