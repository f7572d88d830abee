"""The one registry type of every pluggable family, with a friendly miss (timm's ``register_model`` /
``create_model``): factories (models, datasets) or frozen records (optimizers, schedules, samplers, pruners).

Where a family takes user code (models, datasets), a user's own ``module:function`` or
``path/to/file.py:function`` works wherever a registry name does.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

from ._errors import ConfigError, UnknownNameError

T = TypeVar("T")


def is_user_reference(spec: str) -> bool:
    """True when ``spec`` names user code (``module:function`` or ``file.py:function``)."""
    if ":" not in spec:
        return False
    left, _, right = spec.rpartition(":")
    return bool(left) and right.isidentifier() and (left.endswith(".py") or "/" in left or
                                                   all(p.isidentifier() for p in left.split(".")))


def user_file_digest(spec: Any) -> str | None:
    """The sha256 of the source file a user reference names, or ``None`` (a registry name, an object, a module
    not imported yet, a file gone): what a cache keyed on the reference must also change with, since the name
    stays while the code behind it is edited.

    ``path/to/file.py:function`` is the file itself; ``module:function`` its module's file once imported.

    Example:
        >>> user_file_digest("resnet") is None, len(user_file_digest(f"{__file__}:did_you_mean"))
        (True, 64)
    """
    if not isinstance(spec, str) or not is_user_reference(spec):
        return None
    left = spec.rpartition(":")[0]
    if left.endswith(".py") or "/" in left:
        path: Path | None = Path(left).expanduser()
    else:
        file = getattr(sys.modules.get(left), "__file__", None)
        path = Path(file) if file else None
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def load_user_callable(spec: str, *, what: str) -> Callable[..., object]:
    """Import ``module:function`` or ``path/to/file.py:function`` and return the callable.

    As with ``python file.py``, the file's folder is on ``sys.path`` while the file is imported and while the
    callable runs (so ``from layers import Block`` finds a ``layers.py`` beside it, at the top of the file or
    inside the function); ``sys.path`` is restored afterwards. A ``module:function`` reference also finds a
    module in the working directory, as ``python -m`` would, even when run from the ``hybridtune`` script.

    Args:
        spec: the reference, e.g. ``"my_models:build"`` or ``"./nets.py:tiny"``.
        what: what the callable is for, used in error messages (``"model"``, ``"dataset"``).
    """
    left, _, name = spec.rpartition(":")
    if left.endswith(".py") or "/" in left:
        path = Path(left).expanduser()
        if not path.is_file():
            raise ConfigError(f"{what} file must exist, but got {str(path)!r} (from {spec!r}).")
        folder, first = str(path.resolve().parent), True
        module = _import_file(path, folder, what=what)
    else:
        # last, not first: an installed module of the same name wins, as it would for an installed script
        folder, first = os.getcwd(), False
        try:
            with _on_sys_path(folder, first=False):
                module = importlib.import_module(left)
        except ImportError as exc:
            raise ConfigError(f"{what} module must be importable, but got {left!r} "
                              f"(from {spec!r}): {exc}") from exc
        except Exception as exc:
            raise ConfigError(f"{what} module {left!r} failed to import: {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{what} reference must name a callable, but {spec!r} has no function {name!r}.")
    return _with_folder(fn, folder, first=first)


def _import_file(path: Path, folder: str, *, what: str) -> ModuleType:
    """Import a user's file once per process (a second reference to it reuses the module, so its classes keep
    one identity), with its folder on ``sys.path`` while it runs."""
    mod_name = f"_hybridtune_user_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]}"
    module = sys.modules.get(mod_name)
    if module is not None:
        return module
    loader_spec = importlib.util.spec_from_file_location(mod_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"{what} file must be a Python file, but got {str(path)!r}.")
    module = importlib.util.module_from_spec(loader_spec)
    # registered before it runs, as `import` does: a @dataclass in the file looks its module up there
    sys.modules[mod_name] = module
    try:
        with _on_sys_path(folder):
            loader_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise ConfigError(f"{what} file {str(path)!r} failed to import: "
                          f"{type(exc).__name__}: {exc}") from exc
    return module


@contextmanager
def _on_sys_path(folder: str, *, first: bool = True) -> Iterator[None]:
    """``folder`` on ``sys.path`` for the duration (first, as ``python file.py`` puts the script's folder, or
    last), unless it is there already; removed again on the way out. Modules imported meanwhile stay imported,
    as after any ``import``."""
    if folder in sys.path:
        yield
        return
    if first:
        sys.path.insert(0, folder)
    else:
        sys.path.append(folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def _with_folder(fn: Callable[..., object], folder: str, *, first: bool) -> Callable[..., object]:
    """``fn`` with ``folder`` on ``sys.path`` while it runs (for imports inside the function)."""

    @functools.wraps(fn)
    def call(*args: object, **kwargs: object) -> object:
        with _on_sys_path(folder, first=first):
            return fn(*args, **kwargs)

    return call


class Registry(Generic[T]):
    """The one name -> entry table of every pluggable family, with a friendly miss (timm's ``register_model`` /
    ``create_model``).

    An entry is a factory, registered with a decorator (models, datasets), or a frozen record that carries its
    own ``name`` (optimizers, schedules, samplers, pruners: :meth:`add`). An unknown name raises
    :class:`UnknownNameError` listing the valid names and the closest one.

    Args:
        kind: what an entry is, for messages (``"model"``, ``"schedule"``).
        records: frozen records to hold, each under its own ``name``.
        user_code: whether a user's ``module:function`` / ``file.py:function`` works where a name does
            (:meth:`resolve`); the miss then says so.
        ordered: list the names in the order they were registered (a family whose order means something,
            the default first) instead of alphabetically.

    Example:
        >>> reg: Registry = Registry("model", user_code=True)
        >>> @reg.register("tiny")
        ... def tiny(): return 1
        >>> reg.get("tiny")()
        1
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class ScheduleInfo:
        ...     name: str
        >>> schedules = Registry("schedule", records=[ScheduleInfo("constant"), ScheduleInfo("onecycle")],
        ...                      ordered=True)
        >>> list(schedules), schedules.get("onecycle")
        (['constant', 'onecycle'], ScheduleInfo(name='onecycle'))
        >>> try:
        ...     schedules.get("onecycel")
        ... except UnknownNameError as exc:
        ...     print(exc)
        schedule must be one of constant, onecycle, but got 'onecycel'. Did you mean 'onecycle'?
    """

    def __init__(self, kind: str, *, records: Iterable[T] = (), user_code: bool = False,
                 ordered: bool = False) -> None:
        self.kind = kind
        self.user_code = user_code
        self.ordered = ordered
        self._entries: dict[str, T] = {}
        for record in records:
            self.add(record)

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers a factory under ``name``."""
        def deco(entry: T) -> T:
            self._add(name, entry)
            return entry

        return deco

    def add(self, record: T) -> T:
        """Register a record under its own ``name``, and return it."""
        self._add(getattr(record, "name"), record)
        return record

    def _add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ConfigError(f"{self.kind} names must be unique, but {name!r} is already registered.")
        self._entries[name] = entry

    def names(self) -> list[str]:
        return list(self._entries) if self.ordered else sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()!r})"

    def get(self, name: str) -> T:
        """The entry of ``name``; an unknown name raises an error that lists the valid ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.miss(name)) from None

    __getitem__ = get

    def keys(self) -> list[str]:
        return self.names()

    def items(self) -> list[tuple[str, T]]:
        return [(name, self._entries[name]) for name in self.names()]

    def values(self) -> list[T]:
        return [self._entries[name] for name in self.names()]

    def check(self, name: str) -> str:
        """``name`` if it is registered, else the friendly miss (an input check for a field that holds a name)."""
        self.get(name)
        return name

    def resolve(self, spec: str) -> T:
        """The entry of a registry name or, where the family takes user code, of ``module:function`` /
        ``file.py:function`` (imported by :func:`load_user_callable`)."""
        if self.user_code and isinstance(spec, str) and spec not in self._entries and is_user_reference(spec):
            return load_user_callable(spec, what=self.kind)  # type: ignore[return-value]
        return self.get(spec)

    def miss(self, name: object) -> str:
        """The message for an unknown ``name``: the valid names and the closest one."""
        if self.user_code:
            return unknown_name_message(self.kind, name, self.names())
        return _choice_message(self.kind, name, self.names())


def did_you_mean(name: str, valid: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` Did you mean 'x'?`` for the closest valid name, or ``""``: the one "did you mean" of the package.

    Example:
        >>> did_you_mean("resnett", ["cnn", "resnet"])
        " Did you mean 'resnet'?"
    """
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=cutoff)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name_message(kind: str, name: object, valid: list[str]) -> str:
    hint = did_you_mean(str(name), valid, cutoff=0.5)
    return (f"{kind} must be one of {', '.join(valid)} (or module:function / file.py:function), "
            f"but got {name!r}.{hint}")


def _choice_message(kind: str, value: object, valid: Sequence[str]) -> str:
    hint = did_you_mean(str(value), valid, cutoff=0.5)
    return f"{kind} must be one of {', '.join(valid)}, but got {value!r}.{hint}"


def check_choice(kind: str, value: str, valid: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise a friendly :class:`UnknownNameError`."""
    if value not in valid:
        raise UnknownNameError(_choice_message(kind, value, valid))
    return value
