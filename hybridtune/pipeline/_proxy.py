"""Tuning on a scaled-down model (hyper-parameters found on a 1x model hold at 10x):
search on a narrow proxy, verify on the full-size model.

The optimizer x LR sweep's article found that hyper-parameters found on a 1x model still hold at 10x. :func:`proxy_study` runs the
probes and the search (:func:`run_study`) on the model at ``proxy_width``, then trains the best
configuration once on the full-size model and reports what the transfer saved (the search's cost at
proxy size against the same trials at full size, estimated from measured seconds per example) and what
it lost (against a full-size study of the same name in the same storage, when one exists).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core import ConfigError, Progress, finite_json, open_storage
from ..compare import StudyResult, load_result
from ..space import Hyperparams
from ..study import StudyConfig, default_name
from ..task import Task
from ..train import train_and_test
from ._export import default_out
from ._run import run_study

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxyResult:
    """The proxy study, the full-size verification, and what the transfer saved and lost.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=300,shape=1x12x12", device="cpu")
        >>> cfg = ht.StudyConfig.quick(trials=2, epochs=1, baselines=(), probe_batch_size=32, test=False)
        >>> import optuna
        >>> r = ht.proxy_study(task, cfg, proxy_width=0.5, storage=optuna.storages.InMemoryStorage())
        >>> r.proxy_width, r.full_width
        (0.5, 1.0)
    """

    proxy: StudyResult
    proxy_width: float
    full_width: float
    best_config: dict[str, Any]
    proxy_val_acc: float | None
    full_val_acc: float | None
    full_test_accuracy: float | None
    proxy_seconds_per_example: float
    full_seconds_per_example: float
    search_seconds: float
    search_seconds_at_full_size: float
    verify_seconds: float
    full_study_best: float | None
    status: str

    @property
    def full_test_acc(self) -> float | None:
        """Deprecated: use :attr:`full_test_accuracy`."""
        warnings.warn("ProxyResult.full_test_acc is deprecated; use ProxyResult.full_test_accuracy.",
                      DeprecationWarning, stacklevel=2)
        return self.full_test_accuracy

    @property
    def speedup(self) -> float:
        """How many times faster one training example is at proxy size than at full size."""
        return self.full_seconds_per_example / max(self.proxy_seconds_per_example, 1e-12)

    @property
    def saved_seconds(self) -> float:
        """Estimated seconds the proxy saved: the search at full size minus (the proxy search + verifying)."""
        return self.search_seconds_at_full_size - self.search_seconds - self.verify_seconds

    @property
    def lost_points(self) -> float | None:
        """Accuracy points lost against a full-size study (None when none was run)."""
        if self.full_study_best is None or self.full_val_acc is None:
            return None
        return 100 * (self.full_study_best - self.full_val_acc)

    def to_dict(self) -> dict[str, Any]:
        return finite_json({
            "proxy_width": self.proxy_width, "full_width": self.full_width, "best_config": self.best_config,
            "proxy_val_acc": self.proxy_val_acc, "full_val_acc": self.full_val_acc,
            "full_test_accuracy": self.full_test_accuracy, "status": self.status,
            "proxy_seconds_per_example": self.proxy_seconds_per_example,
            "full_seconds_per_example": self.full_seconds_per_example,
            "search_seconds": self.search_seconds, "search_seconds_at_full_size": self.search_seconds_at_full_size,
            "verify_seconds": self.verify_seconds, "speedup": self.speedup, "saved_seconds": self.saved_seconds,
            "full_study_best": self.full_study_best, "lost_points": self.lost_points,
            "proxy_study": self.proxy.to_dict()})


def proxy_study(task: Task, config: StudyConfig | None = None, *, proxy_width: float, storage: Any = None,
                progress: Progress | None = None, report: str | Path | None = None) -> ProxyResult:
    """Search on the model at ``proxy_width``, verify the best configuration on the full-size model.

    Args:
        task: the full-size task; its model must take a ``width`` option (``resnet``, ``cnn``, ``mlp``
            and any user factory with a ``width`` parameter).
        config: the study's settings; its name gets a ``-proxy<width>`` suffix, so the full-size study of
            the same name (if you run it) is left alone and is what ``lost_points`` compares with.
        proxy_width: the proxy's width multiplier, relative to the full model's (e.g. 0.25).
        storage: an Optuna storage URL or object.
        progress: optional ``progress(phase, done, total)``.
        report: also write the proxy study's HTML report there (``result.proxy.report``).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> r = ht.proxy_study(task, ht.StudyConfig.quick(trials=2, baselines=()),
        ...                    proxy_width=0.5, storage="sqlite:///runs/proxy.db")  # doctest: +SKIP
        >>> r.saved_seconds > 0  # doctest: +SKIP
        True
    """
    if isinstance(proxy_width, bool) or not isinstance(proxy_width, (int, float)) or not 0 < proxy_width:
        raise ConfigError(f"proxy_width must be a positive number, but got proxy_width={proxy_width!r}.")
    config = config or StudyConfig()
    full_width = float(task.model_kwargs.get("width", 1.0))
    width = full_width * float(proxy_width)
    try:
        task.build_model(width=width)
    except ConfigError as exc:
        raise ConfigError(f"model {task.model_name!r} must take a width option for proxy_width: {exc}") from None
    base_name = config.name or default_name(task, config)
    proxy_task = task.replace(model_kwargs={**task.model_kwargs, "width": width})
    store = open_storage(storage)
    proxy_name = f"{base_name}-proxy{proxy_width:g}"
    # its own artefacts' folder: the report may sit beside the full-size study's best.json, which it must not
    # overwrite
    proxy = run_study(proxy_task, config.replace(name=proxy_name), storage=store, progress=progress, report=report,
                      out=default_out(proxy_name))
    search = proxy.search
    if search.best_config is None:
        raise ConfigError("the proxy search must finish a trial to transfer it, but none completed.")
    hp = Hyperparams(**search.best_config)
    # the epochs the proxy study ran with (a default config's are chosen from the task when it runs)
    tc = hp.train_config(optimizer=task.optimizer, epochs=int(proxy.config["epochs"]), seed=config.seed)
    if progress is not None:
        progress("verify at full size", 0, 1)
    verified = train_and_test(task, tc)
    full = verified.result
    if progress is not None:
        progress("verify at full size", 1, 1)
    # the proxy's own cost per example, from its stored trials; the full model's from the verification
    ex = sum(p.cost.examples for p in search.history)
    secs = sum(p.cost.seconds for p in search.history)
    proxy_spe = secs / ex if ex else 0.0
    full_spe = full.cost.seconds / full.cost.examples if full.cost.examples else 0.0
    probes = search.probe_cost
    search_seconds = secs + (probes.seconds if probes else 0.0)
    at_full = search_seconds * (full_spe / proxy_spe) if proxy_spe else float("nan")
    full_best = None
    try:
        full_best = load_result(base_name, storage=store).search.best_value
    except ConfigError:
        _log.info("no full-size study %r in the storage: the loss of the transfer is not measured", base_name)
    return ProxyResult(proxy=proxy, proxy_width=width, full_width=full_width, best_config=hp.to_dict(),
                       proxy_val_acc=search.best_value, full_val_acc=full.val_acc,
                       full_test_accuracy=verified.test_accuracy,
                       proxy_seconds_per_example=proxy_spe, full_seconds_per_example=full_spe,
                       search_seconds=search_seconds, search_seconds_at_full_size=at_full,
                       verify_seconds=full.cost.seconds, full_study_best=full_best, status=full.status)
