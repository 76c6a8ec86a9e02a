"""Executable specifications: pure, immutable, deterministic transition systems."""

from .base import Action, Refinement, Spec, action
from .constants import ConfigError, Constants

__all__ = ["Action", "ConfigError", "Constants", "Refinement", "Spec", "action"]
