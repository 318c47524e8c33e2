"""Exception hierarchy of urbanmine.

Library code raises these; only :mod:`urbanmine.cli` turns them into one-line messages and
exit code 1. Nothing here imports click.
"""

from __future__ import annotations


class UrbanmineError(Exception):
    """Base class of every error urbanmine raises on purpose."""


class LifetimeError(UrbanmineError, ValueError):
    """A lifetime distribution has invalid parameters or cannot be discretised."""


class DimensionMismatchError(UrbanmineError, ValueError):
    """Arrays disagree on their shapes, dimensions or items."""


class InputDataError(UrbanmineError, ValueError):
    """An input file (CSV, TOML, JSON) is missing, malformed or inconsistent."""


class StockModelError(UrbanmineError, ValueError):
    """A stock model cannot be solved as asked (e.g. negative inflow under ``raise``)."""


class MassBalanceError(UrbanmineError, ArithmeticError):
    """Inflow - outflow differs from the stock change by more than the tolerance."""


class OutputExistsError(UrbanmineError, FileExistsError):
    """An output file exists and ``overwrite`` was not given."""


class ProfileError(UrbanmineError, ValueError):
    """A product profile is invalid. ``problems`` lists every problem found in the file."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class CalibrationError(UrbanmineError, ValueError):
    """The collection-rate model cannot be fitted, loaded or applied."""
