"""A tiny name -> factory registry, so a new encoding, task, regime or measure is one module plus one line."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a public name (as written in configs) to the object that implements it.

    ``filled_by`` names the module whose import registers the entries; it is imported on the first
    lookup, so a module below it in the import order (the config validator) can read the names.
    """

    def __init__(self, kind: str, filled_by: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._filled_by = filled_by

    def _fill(self) -> None:
        if self._filled_by is not None:
            module, self._filled_by = self._filled_by, None
            importlib.import_module(module)

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        self._fill()
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self._fill()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._fill()
        return name in self._entries


# Registries the measures fill: declared here because the measures sit above analysis.config in the
# import order (they read its RunSpec), and the config validates the names configs give them.
MEASURES: Registry[Any] = Registry("measure", filled_by="analysis.measures")
GRADIENT_METHODS: Registry[Any] = Registry("gradient-matrix method", filled_by="analysis.measures.gradient_matrix")
