"""The one registry used for models, codecs, channels, hardware profiles and strategies.

A :class:`Registry` maps a name to a factory (a class or a function). It works the way
timm's ``create_model`` and CompressAI's ``register_model`` do: components register
themselves with a decorator, callers build them with :meth:`Registry.create` and list them
with :meth:`Registry.names`. A duplicate name raises, and an unknown name raises an error
that lists the valid names and the closest match.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of factories of one kind of component.

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages ("model", "codec", ...).

    Examples
    --------
    >>> codecs = Registry("codec")
    >>> @codecs.register("identity")
    ... class Identity:
    ...     pass
    >>> codecs.names()
    ['identity']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Return a decorator that registers a factory under ``name``.

        Raises
        ------
        ValueError
            If ``name`` is empty or already registered.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered (by "
                    f"{getattr(self._factories[name], '__qualname__', self._factories[name])}); "
                    "choose another name"
                )
            self._factories[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """Return the factory registered under ``name``.

        Raises
        ------
        ValueError
            If ``name`` is unknown; the message lists the valid names and the closest match.
        """
        if not isinstance(name, str):
            raise TypeError(f"a {self.kind} name must be a string, got {type(name).__name__}")
        try:
            return self._factories[name]
        except KeyError:
            raise ValueError(self._unknown_message(name)) from None

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Build the component registered under ``name`` with the given arguments."""
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._factories)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"

    def _unknown_message(self, name: str) -> str:
        valid = self.names()
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.4)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.kind} names: {', '.join(valid)}"
