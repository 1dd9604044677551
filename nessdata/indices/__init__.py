"""Derived monthly indices (data_indices): the registry of their definitions, their
computation for local calendar months, and reading them back."""

from . import definitions  # noqa: F401  (registers the indices)
from .compute import IndexReport, compute_indices, parse_month, read_indices
from .registry import REGISTRY, IndexDefinition, Outcome, definition_of

__all__ = ["REGISTRY", "IndexDefinition", "IndexReport", "Outcome",
           "compute_indices", "definition_of", "parse_month", "read_indices"]
