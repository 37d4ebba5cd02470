"""One small registry for everything fakescope creates by name: face detectors, classifier architectures,
dataset formats.

A registry belongs to a package. Each entry lives in its own module of that package and registers itself
with a decorator; the registry imports the package's modules the first time a name is looked up, so
adding an entry touches one file and no import list. Nothing is imported before it is needed (importing
`fakescope` stays free of torch), and a family module can import its package without a cycle.

    DETECTORS = Registry("face detector", "fakescope.faces")

    @DETECTORS.register("yunet")          # or @MODELS.register: the function's own name
    class YuNetDetector: ...

    DETECTORS.get("yunet")                # the factory; an unknown name is a one-line error listing the known
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar, overload

from fakescope.errors import FakescopeError

T = TypeVar("T", bound=Callable)


class Registry(Generic[T]):
    """Name -> factory, filled by the modules of `package` as they are imported."""

    def __init__(self, kind: str, package: str, error: type[FakescopeError] = FakescopeError) -> None:
        self.kind = kind  # what an entry is, in an error message: "unknown face detector 'x'"
        self.package = package
        self.error = error
        self._entries: dict[str, T] = {}
        self._discovered = False

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: T) -> T: ...

    def register(self, name):
        """Decorator: `@reg.register("name")`, or bare `@reg.register` to use the factory's `__name__`."""
        if callable(name):
            return self._add(name.__name__, name)
        return lambda factory: self._add(name, factory)

    def _add(self, name: str, factory: T) -> T:
        other = self._entries.get(name)
        if other is not None and other is not factory and _origin(other) != _origin(factory):
            raise ValueError(f"{self.kind} {name!r} is registered twice ({_origin(other)} and {_origin(factory)})")
        self._entries[name] = factory
        return factory

    def discover(self) -> None:
        """Import every public module of the package once, so that each registers what it defines."""
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.error(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None


def _origin(factory: Callable) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', '?')}"
