"""urbanmine: recoverable rare earths from end-of-life products, by region and year.

The engine (lifetimes and cohort stock models) is importable without pandas or scikit-learn.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .lifetimes import (  # noqa: E402
    Chained,
    Empirical,
    Fixed,
    FoldedNormal,
    Lifetime,
    LogNormal,
    Normal,
    Weibull,
    survival_factors,
)
from .stocks import StockResult, check_mass_balance, inflow_driven, stock_driven  # noqa: E402

__all__ = [
    "__version__",
    "Lifetime",
    "Weibull",
    "LogNormal",
    "Normal",
    "FoldedNormal",
    "Fixed",
    "Empirical",
    "Chained",
    "survival_factors",
    "StockResult",
    "inflow_driven",
    "stock_driven",
    "check_mass_balance",
]
