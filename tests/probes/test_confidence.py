from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import hybridtune as ht
from hybridtune.probes._confidence import CONFIDENCE_FLOOR, UNMEASURED, lr_confidence, momentum_confidence
from hybridtune.probes._priors import MOMENTUM_TOLERANCE
from hybridtune.probes._rangetest import _suggestions
from hybridtune.train import Cost

# The synthetic range test of test_suggest.py: a plateau at 2.3, a sigmoid fall of 1.5 centred at lr 1e-2 and an
# exponential blow-up past lr 0.1 (one sweep of 8 decades).


def sweep(n: int = 100, *, fall: float = 1.5, centre: float = -2.0, blow_up: bool = True, noise: float = 0.0,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.logspace(-7, 1, n)
    x = np.log10(lrs)
    y = 2.3 - fall / (1 + np.exp(-(x - centre) / 0.3))
    if blow_up:
        y = y + np.exp((x + 0.5) / 0.15)
    return lrs, y + noise * np.random.default_rng(seed).standard_normal(n)


def range_test(lrs: np.ndarray, losses: np.ndarray, *, extended: str | None = None) -> ht.RangeTestResult:
    """A stored range test of this curve, with the suggestions the range test itself would make."""
    suggestions, band, error = _suggestions(list(lrs), list(losses))
    return ht.RangeTestResult(optimizer="adam", mode="exp", start_lr=float(lrs[0]), end_lr=float(lrs[-1]),
                              steps=len(lrs), batch_size=32, momentum=0.9, weight_decay=0.0, seed=0,
                              lrs=tuple(lrs), losses=tuple(losses), smoothed=tuple(losses), stopped="synthetic",
                              diverged=False, cost=Cost(), suggestions=suggestions, band=band,
                              suggestion_error=error, extended=extended)


@pytest.mark.parametrize("n", [100, 400])
def test_a_clean_curve_gives_high_confidence(n: int) -> None:
    # the loss falls 65% of its start, far above the noise, bottoms out sharply, and the rules agree
    rt = range_test(*sweep(n, noise=0.05))
    value, why = lr_confidence(rt)
    assert value >= 0.9
    assert why == f"LR confidence {value:g}: every check passed"


@pytest.mark.parametrize("n", [100, 400])
@pytest.mark.parametrize("case", ["flat", "noisy", "truncated"])
def test_a_flat_noisy_or_truncated_curve_gives_low_confidence(n: int, case: str) -> None:
    curves = {
        # a 4% fall: enough for a band, too little to trust it
        "flat": sweep(n, fall=0.1, noise=0.005),
        # noise of one batch as large as 40% of the fall: the rules read different features of it
        "noisy": sweep(n, noise=0.6),
        # still falling at lr 10: the sweep ended before the edge
        "truncated": sweep(n, centre=0.5, blow_up=False, noise=0.02),
    }
    rt = range_test(*curves[case])
    assert rt.band is not None  # each curve still gives priors: the confidence is what tells them apart
    value, why = lr_confidence(rt)
    clean, _ = lr_confidence(range_test(*sweep(n, noise=0.05)))
    assert CONFIDENCE_FLOOR <= value <= 0.3 < clean
    expected = {"flat": "the loss fell", "noisy": "one batch's noise", "truncated": "still falling at the end"}
    assert expected[case] in why


def test_each_weakness_lowers_the_confidence() -> None:
    lrs, losses = sweep(200, noise=0.05)
    clean = lr_confidence(range_test(lrs, losses))[0]
    extended, why = lr_confidence(range_test(lrs, losses, extended="re-run longer"))
    assert extended == pytest.approx(0.8 * clean) and "re-run longer" in why
    # a fall of 15% (the range test's own WEAK_FALL) gets at most half the credit
    weak = lr_confidence(range_test(*sweep(200, fall=0.15 * 2.3, noise=0.005)))[0]
    assert weak <= 0.5 * clean + 1e-9


def test_a_curve_without_a_band_or_without_points() -> None:
    rt = range_test(*sweep(100, fall=0.02, noise=0.02))  # a 1% fall: the rules refuse it
    assert rt.band is None
    value, why = lr_confidence(rt)
    assert value == CONFIDENCE_FLOOR and "gave no band" in why
    empty = dataclasses.replace(rt, lrs=(), losses=(), smoothed=())
    assert lr_confidence(empty)[0] == UNMEASURED


def test_momentum_well_separated_losses_beat_near_identical_ones() -> None:
    apart, why_apart = momentum_confidence([0.40, 0.50, 0.60, 0.90], tolerance=MOMENTUM_TOLERANCE)
    close, why_close = momentum_confidence([0.500, 0.502, 0.505, 0.510], tolerance=MOMENTUM_TOLERANCE)
    assert apart > close and apart == 1.0 and close == CONFIDENCE_FLOOR
    assert why_apart == "momentum confidence 1: every check passed"
    assert why_close == ("momentum confidence 0.05: the runner-up's loss is 0.4% above the best (0.08x the seed "
                         "noise) (x0.04)")
    # a gap of one seed-noise unit (5%) gets half the credit
    assert momentum_confidence([1.0, 1.05], tolerance=MOMENTUM_TOLERANCE)[0] == pytest.approx(0.5)


def test_momentum_divergence_lowers_the_confidence() -> None:
    clean = momentum_confidence([0.40, 0.50, 0.60], tolerance=MOMENTUM_TOLERANCE)[0]
    some, why = momentum_confidence([None, 0.50, 0.60], tolerance=MOMENTUM_TOLERANCE)
    assert some == pytest.approx(0.7 * clean) and "1 of 3 runs diverged" in why
    assert momentum_confidence([None, None], tolerance=MOMENTUM_TOLERANCE)[0] == CONFIDENCE_FLOOR
    assert momentum_confidence([0.5], tolerance=MOMENTUM_TOLERANCE)[0] == UNMEASURED
    assert momentum_confidence([], tolerance=MOMENTUM_TOLERANCE)[0] == UNMEASURED


def _runs(losses: list[float | None]) -> tuple[ht.MomentumRun, ...]:
    return tuple(ht.MomentumRun(momentum=m, val_loss=v, val_acc=None if v is None else 0.5, train_losses=(1.0,),
                                val_losses=(v,), val_accs=(None,), step_losses=(1.0,),
                                status="diverged" if v is None else "completed", cost=Cost())
                 for m, v in zip((0.99, 0.95, 0.9), losses))


def _priors(**changes: object) -> ht.Priors:
    rt = range_test(*sweep(100, noise=0.05))
    kw: dict[str, object] = {"optimizer": "adam", "lr_min": rt.band.lr_min, "lr_max": rt.band.lr_max,
                             "momentum": 0.95, "momentum_band": (0.95, 0.99), "batch_size": 32, "weight_decay": 0.0,
                             "range_test": rt, "momentum_runs": _runs([0.6, 0.4, 0.5]), "cost": Cost(),
                             "reasoning": "synthetic"}
    kw.update(changes)
    return ht.Priors(**kw)  # type: ignore[arg-type]


def test_priors_measure_their_confidence_and_round_trip() -> None:
    p = _priors()
    assert p.lr_confidence == lr_confidence(p.range_test)[0] >= 0.9
    assert p.momentum_confidence == 1.0  # the runner-up (0.5) is 25% above the best (0.4)
    assert p.confidence_reasons[0].startswith("LR confidence") and p.confidence_reasons[1].startswith("momentum")
    d = json.loads(p.to_json())
    assert d["lr_confidence"] == p.lr_confidence and d["confidence_reasons"] == list(p.confidence_reasons)
    assert ht.Priors.from_dict(d) == p and ht.Priors.from_json(p.to_json()) == p


def test_old_stored_priors_get_their_confidence_from_the_stored_curves() -> None:
    p = _priors(momentum_runs=_runs([0.500, 0.501, 0.502]))
    old = p.to_dict()
    for key in ("lr_confidence", "momentum_confidence", "confidence_reasons"):
        del old[key]
    back = ht.Priors.from_dict(old)
    assert back == p and back.momentum_confidence == CONFIDENCE_FLOOR
    assert ht.Priors.from_json(back.to_json()) == back


def test_given_confidences_are_checked_and_kept() -> None:
    p = _priors(lr_confidence=0.4, momentum_confidence=1)
    assert (p.lr_confidence, p.momentum_confidence) == (0.4, 1.0)
    assert p.confidence_reasons == ("LR confidence 0.4: given, not measured",
                                    "momentum confidence 1: given, not measured")
    assert ht.Priors.from_json(p.to_json()) == p
    for bad in (0, 1.5, float("nan"), True):
        with pytest.raises(ht.ConfigError) as e:
            _priors(lr_confidence=bad)
        assert str(e.value) == f"lr_confidence must be in (0, 1], but got lr_confidence={bad}."
    with pytest.raises(ht.ConfigError) as e:
        _priors(momentum_confidence=-1)
    assert str(e.value) == "momentum_confidence must be in (0, 1], but got momentum_confidence=-1."


def test_no_momentum_confidence_without_a_momentum() -> None:
    p = _priors(optimizer="sgd", momentum=None, momentum_band=None, momentum_runs=())
    assert p.momentum_confidence is None and len(p.confidence_reasons) == 1
    assert ht.Priors.from_json(p.to_json()) == p
