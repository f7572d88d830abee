from __future__ import annotations

import math

import numpy as np
import pytest

import hybridtune as ht

# A synthetic range-test curve with known answers: a plateau at 2.3, a sigmoid fall of 1.5 centred at
# lr 1e-2 (the steepest point), and an exponential blow-up that puts the minimum near lr 0.09.
CENTER = -2.0


def _formula(x: np.ndarray) -> np.ndarray:
    return 2.3 - 1.5 / (1 + np.exp(-(x - CENTER) / 0.3)) + np.exp((x + 0.5) / 0.15)


def curve(n: int = 100, *, noise: float = 0.0, seed: int = 0, linear: bool = False,
          lo: float = -7, hi: float = 1) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.linspace(10 ** lo, 10 ** hi, n) if linear else np.logspace(lo, hi, n)
    y = _formula(np.log10(lrs))
    return lrs, y + noise * np.random.default_rng(seed).standard_normal(n)


X_DENSE = np.linspace(-7, 1, 200_001)
TRUE_MIN = float(X_DENSE[np.argmin(_formula(X_DENSE))])  # about -1.04


def log(v: float) -> float:
    return math.log10(v)


def test_clean_curve_known_answers() -> None:
    lrs, y = curve(200)
    step = 8 / 199
    assert log(ht.suggest_steepest(lrs, y)) == pytest.approx(CENTER, abs=0.05)
    assert log(ht.suggest_min_div10(lrs, y)) == pytest.approx(TRUE_MIN - 1, abs=0.1)
    band = ht.suggest_band(lrs, y)
    # the minimum, minus five sweep steps of overshoot, minus half a decade
    assert log(band.lr_max) == pytest.approx(TRUE_MIN - 5 * step - 0.5, abs=0.1)
    assert band.lr_min == pytest.approx(band.lr_max / 10)
    assert "bottomed out" in band.reasoning and "lr_min = lr_max / 10" in band.reasoning
    # the valley sits inside the fall: below the minimum, above where the fall starts
    assert CENTER - 1 < log(ht.suggest_valley(lrs, y)) < TRUE_MIN


def test_band_follows_sweep_density() -> None:
    # the overshoot is counted in steps: a denser sweep puts lr_max closer to the minimum
    coarse = ht.suggest_band(*curve(100)).lr_max
    dense = ht.suggest_band(*curve(400)).lr_max
    assert log(dense) - log(coarse) == pytest.approx(5 * (8 / 99 - 8 / 399), abs=0.1)


def test_slopes_are_taken_against_log_lr_for_a_linear_sweep() -> None:
    # a linear sweep crowds its points at the top; against raw LR the steepest slope would sit at the
    # blow-up end (Lightning's bug). Against log10(LR) it is where the loss really falls fastest.
    lrs, y = curve(2000, linear=True, lo=-4, hi=0)
    assert log(ht.suggest_steepest(lrs, y)) == pytest.approx(CENTER, abs=0.15)
    assert log(ht.suggest_min_div10(lrs, y)) == pytest.approx(TRUE_MIN - 1, abs=0.1)


def test_nan_and_inf_are_dropped() -> None:
    lrs, y = curve(200)
    dirty = y.copy()
    rng = np.random.default_rng(1)
    dirty[rng.choice(150, 15, replace=False)] = np.nan
    dirty[rng.choice(150, 5, replace=False)] = np.inf
    for rule in (ht.suggest_steepest, ht.suggest_valley, ht.suggest_min_div10):
        assert log(rule(lrs, dirty)) == pytest.approx(log(rule(lrs, y)), abs=0.1)
    assert log(ht.suggest_band(lrs, dirty).lr_max) == pytest.approx(log(ht.suggest_band(lrs, y).lr_max), abs=0.1)


def test_divergence_tail_is_ignored() -> None:
    # after the blow-up a real sweep records huge losses, then NaNs, then a dead network's plateau
    lrs, y = curve(200)
    tail = np.log10(lrs) > -0.5
    y[tail] = np.where(np.arange(tail.sum()) % 2, 1e6, np.nan)
    ref_lrs, ref = curve(200)
    for rule in (ht.suggest_steepest, ht.suggest_valley, ht.suggest_min_div10):
        assert log(rule(lrs, y)) == pytest.approx(log(rule(ref_lrs, ref)), abs=0.15)


def test_single_spiky_batches_do_not_move_the_band() -> None:
    lrs, y = curve(100)
    spiky = y.copy()
    spiky[[20, 21, 50, 70]] += 4.0  # two bad batches in a row, and lone ones
    assert log(ht.suggest_band(lrs, spiky).lr_max) == pytest.approx(log(ht.suggest_band(lrs, y).lr_max), abs=0.1)


@pytest.mark.parametrize("n", [100, 400])
def test_band_is_stable_across_noise_seeds(n: int) -> None:
    # batch noise of 0.1 on a loss of 2.3; 30 seeds: the band must not move by orders of magnitude
    maxes = [log(ht.suggest_band(*curve(n, noise=0.1, seed=s)).lr_max) for s in range(30)]
    assert max(maxes) - min(maxes) < 0.3
    assert np.median(maxes) == pytest.approx(log(ht.suggest_band(*curve(n)).lr_max), abs=0.1)
    mins = [log(ht.suggest_min_div10(*curve(n, noise=0.1, seed=s))) for s in range(30)]
    assert max(mins) - min(mins) < 0.3


def test_point_rules_stay_within_a_decade_under_noise() -> None:
    for rule in (ht.suggest_steepest, ht.suggest_valley):
        values = [log(rule(*curve(100, noise=0.1, seed=s))) for s in range(30)]
        assert max(values) - min(values) < 1.0, rule.__name__


def test_deterministic() -> None:
    lrs, y = curve(150, noise=0.1, seed=3)
    assert ht.suggest_band(lrs, y) == ht.suggest_band(lrs.copy(), list(y))
    assert ht.suggest_steepest(lrs, y) == ht.suggest_steepest(list(lrs), y)


def test_too_few_points() -> None:
    lrs, y = curve(100)
    y[7:] = np.nan
    with pytest.raises(ht.ConfigError) as err:
        ht.suggest_band(lrs, y)
    assert str(err.value) == "suggest_band needs at least 8 finite (lr, loss) points, but got 7."


def test_lrs_must_increase_and_match() -> None:
    with pytest.raises(ht.ConfigError, match=r"lrs must be strictly increasing \(a range sweep\), but got "
                                             r"lrs\[2\]=0\.3 followed by 0\.2\."):
        ht.suggest_valley([0.1, 0.2, 0.3, 0.2, 0.5, 0.6, 0.7, 0.8], [1.0] * 8)
    with pytest.raises(ht.ConfigError, match="lrs and losses must have the same length, but got 3 and 2."):
        ht.suggest_steepest([1, 2, 3], [1, 2])


def test_a_loss_that_never_falls_is_a_clear_error() -> None:
    lrs = np.logspace(-7, 1, 100)
    flat = 2.3 + 0.01 * np.random.default_rng(0).standard_normal(100)
    with pytest.raises(ht.ConfigError, match="suggest_band needs a loss that falls during the sweep, but it "
                                             "never fell clearly below its starting value"):
        ht.suggest_band(lrs, flat)


def test_a_loss_that_rises_at_once_asks_for_a_lower_start() -> None:
    lrs = np.logspace(-1, 1, 50)
    with pytest.raises(ht.ConfigError, match="start the sweep lower"):
        ht.suggest_min_div10(lrs, 2.3 * np.exp(np.log10(lrs) + 1))


def test_loss_still_falling_at_the_end_says_so() -> None:
    lrs, y = curve(100, hi=-1.5)  # the sweep stops before the minimum
    band = ht.suggest_band(lrs, y)
    assert "still falling, raise end_lr" in band.reasoning


def test_band_round_trips() -> None:
    band = ht.suggest_band(*curve(100))
    assert ht.LRBand.from_dict(band.to_dict()) == band


def test_a_lucky_first_batch_on_a_flat_start_is_not_a_divergence() -> None:
    # a token model's sweep (seen with a user's model on the tokens set): the loss hovers at 0.8 for five decades,
    # its first batch happens to be low and the next few high, then it falls to 0 near lr 0.1. The smoothed start
    # lies below the plateau, and the plateau's noise once read as the loss rising above its start
    lrs = np.logspace(-7, 1, 100)
    x = np.log10(lrs)
    y = 0.8 - 0.8 / (1 + np.exp(-(x + 1.3) / 0.25)) + 0.04 * np.random.default_rng(0).standard_normal(100)
    y[0], y[1:5] = 0.70, y[1:5] + 0.06
    band = ht.suggest_band(lrs, y)
    assert -2.5 < log(band.lr_max) < 0.5
