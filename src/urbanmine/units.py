"""Canonical units used inside urbanmine, and the only unit conversion factors in the code base.

Inside the model every quantity is held in one canonical unit and converted only at the edges
(reading profiles and data, writing output). Rates, shares and yields are fractions in [0, 1],
never percentages.
"""

from __future__ import annotations

MASS = "t"
"""Stocks of material [t]."""
MASS_FLOW = "t/yr"
"""Flows of material: sales, end of life, collected, liberated, recovered [t/yr]."""
CONTENT = "kg/unit"
"""Element or magnet content of one product unit (device, vehicle, MW) [kg/unit]."""
TIME = "yr"
"""Lifetimes and ages [yr]; calendar years are integers."""
FRACTION = "1"
"""Rates, shares and yields, always within [0, 1]."""

T_PER_KG = 1e-3
"""Tonnes per kilogram."""
KG_PER_G = 1e-3
"""Kilograms per gram."""
KG_PER_MG = 1e-6
"""Kilograms per milligram."""
