"""The one Registry: decorator, create, names, duplicate and unknown-name errors."""

from __future__ import annotations

import pytest

from spikesat._registry import Registry


def _registry() -> Registry:
    reg = Registry("widget")

    @reg.register("gear")
    class Gear:
        def __init__(self, teeth: int = 8) -> None:
            self.teeth = teeth

    @reg.register("spring")
    def spring(stiffness: float = 1.0) -> dict:
        return {"stiffness": stiffness}

    return reg


def test_create_passes_arguments_and_lists_sorted_names() -> None:
    reg = _registry()
    assert reg.create("gear", teeth=12).teeth == 12
    assert reg.create("spring", stiffness=2.0) == {"stiffness": 2.0}
    assert reg.names() == ["gear", "spring"]
    assert "gear" in reg and "chain" not in reg and len(reg) == 2


def test_duplicate_name_raises() -> None:
    reg = _registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("gear")(object)


def test_unknown_name_lists_choices_and_closest_match() -> None:
    reg = _registry()
    with pytest.raises(ValueError) as err:
        reg.create("gaer")
    message = str(err.value)
    assert "unknown widget 'gaer'" in message
    assert "Did you mean 'gear'?" in message
    assert "gear, spring" in message


def test_unknown_keyword_is_not_dropped() -> None:
    with pytest.raises(TypeError):
        _registry().create("gear", cogs=3)


def test_bad_names_rejected() -> None:
    reg = Registry("widget")
    with pytest.raises(ValueError):
        reg.register("")
    with pytest.raises(TypeError):
        reg.get(3)  # type: ignore[arg-type]
