"""Index definitions: what each index means and the function that computes it for
a month. Adding an index is one decorated function in definitions.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .month import Month


@dataclass(frozen=True)
class Outcome:
    """A month's value of an index (None when missing) and what it was made of."""

    value: Decimal | None
    metadata: dict[str, Any] = field(default_factory=dict)


def missing(reason: str, **inputs: Any) -> Outcome:
    return Outcome(None, {"missing": reason, **inputs})


@dataclass(frozen=True)
class IndexDefinition:
    key: str  # a key, or a pattern such as eventos_<module> for a family
    title: str
    unit: str  # count, BRL or %
    definition: str  # one line
    places: int  # decimal places the value is rounded to, half-even
    compute: Callable[[Month], dict[str, Outcome]] = field(repr=False)
    family: bool = False

    @property
    def prefix(self) -> str:
        return self.key.split("<", 1)[0]

    def rounded(self, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        return value.quantize(Decimal(1).scaleb(-self.places), ROUND_HALF_EVEN)


REGISTRY: dict[str, IndexDefinition] = {}


def index(key: str, *, title: str, unit: str, definition: str, places: int = 8):
    """Register a function (Month -> Outcome) as the index `key`."""

    def register(function: Callable[[Month], Outcome]):
        REGISTRY[key] = IndexDefinition(
            key, title, unit, definition, places,
            lambda month: {key: function(month)},
        )
        return function

    return register


def index_family(key: str, *, title: str, unit: str, definition: str,
                 places: int = 0):
    """Register a function (Month -> {key: Outcome}) computing several indices
    whose keys follow the pattern `key`, e.g. eventos_<module>."""

    def register(function: Callable[[Month], dict[str, Outcome]]):
        REGISTRY[key] = IndexDefinition(key, title, unit, definition, places,
                                        function, family=True)
        return function

    return register


def definition_of(index_key: str) -> IndexDefinition | None:
    """The definition of a stored key, a family member's included."""
    if index_key in REGISTRY:
        return REGISTRY[index_key]
    for definition in REGISTRY.values():
        if definition.family and index_key.startswith(definition.prefix):
            return definition
    return None
