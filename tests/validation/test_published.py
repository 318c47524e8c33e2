"""Cross-checks of the shipped defaults against published figures.

Each test names its source, the published figure, how ours is computed, and a tolerance
justified by how the figure was published. Where ours differs beyond it, the test is marked as
an expected failure with the reason (and ``data/README.md`` says why); such a test fails the
suite once the data are fixed, so that the mark is removed then. Nothing here is tuned.
"""

import numpy as np
import pytest

from urbanmine.estimate import estimate, load_inputs


@pytest.fixture(scope="module")
def inputs():
    return load_inputs()


def _per_unit(profile, segment, year):
    """Rare earths (Nd+Pr+Dy+Tb) per unit of a segment's cohort [kg/unit], by its technology mix."""
    shares = profile.shares([year])[:, 0]
    content = profile.content([year])[:, :, 0].sum(axis=1)
    return sum(s * c for (seg, _), s, c in zip(profile.technologies, shares, content) if seg == segment)


def test_rare_earths_per_electric_car(inputs):
    """IEA (2021), The Role of Critical Minerals in Clean Energy Transitions: 0.5 kg of rare earths
    per electric car (chart values as reproduced by SAE International 2022). A single rounded
    figure for a typical battery-electric car: ±20 % (0.4-0.6 kg) spans its rounding and the
    spread between models."""
    ours = _per_unit(inputs.profiles["ev_traction_motor"], "bev", 2021)
    assert ours == pytest.approx(0.5, rel=0.2)


def _nd_share(profile):
    """Nd as a share of Nd+Pr+Dy+Tb in the profile's magnet grade (to convert ELMA's kg Nd/MW)."""
    comp = next(iter(profile.compositions.values()))
    central = {e: float(q.at([2021])[0]) for e, q in comp.items()}
    return central["Nd"] / sum(central.values())


def test_rare_earths_per_mw_onshore_wind(inputs):
    """Onshore wind, rare earths per MW of new capacity: IEA (2021) about 14 kg/MW; ELMA
    (Deetman et al. 2021) 20.3 kg Nd/MW, 29 kg of rare earths at the profile's magnet grade (Nd
    is 69 % of its rare earths). The two sources bracket the fleet average; ours (2021 cohort)
    must lie between them."""
    wind = inputs.profiles["wind_turbine"]
    ours = _per_unit(wind, "onshore", 2021)
    assert 14.0 <= ours <= 20.3 / _nd_share(wind)


@pytest.mark.xfail(strict=True, reason=(
    "offshore content is below both published fleet averages (about 134 kg/MW against 239 and "
    "228): the magnet mass per direct-drive MW and the offshore technology mix are to be "
    "reconciled with the IEA and ELMA figures (issue #12, wind)"))
def test_rare_earths_per_mw_offshore_wind(inputs):
    """Offshore wind, rare earths per MW of new capacity: IEA (2021) 239 kg/MW; ELMA (Deetman et
    al. 2021) 158 kg Nd/MW, 228 kg of rare earths at the profile's magnet grade. Ours must lie
    between them."""
    wind = inputs.profiles["wind_turbine"]
    ours = _per_unit(wind, "offshore", 2021)
    assert 158.0 / _nd_share(wind) <= ours <= 239.0


@pytest.mark.xfail(strict=True, reason=(
    "ours (5.8 kt) covers battery-electric and plug-in hybrid cars only: the IEA's electric "
    "vehicles also include buses, trucks and two- and three-wheelers, and full hybrids are not "
    "modelled yet (issue #12, vehicles)"))
def test_rare_earth_demand_of_ev_motors_2023(inputs):
    """IEA Global Critical Minerals Outlook 2024 (as reported in summaries; see the project's
    validation notes): magnet rare-earth demand 93 kt in 2023, of which electric vehicles about
    7 %, i.e. 6.5 kt. The share is given to a whole percent (6.5-7.5 %): 6.0-7.0 kt."""
    df = estimate(["WORLD"], years=(2023, 2023), products=["ev_traction_motor"], elements=["REE"],
                  inputs=inputs)
    ours = float(df[df.stage == "sales"]["value"].iloc[0]) / 1000  # kt
    assert 93 * 0.065 <= ours <= 93 * 0.075


def test_secondary_production_today_is_about_one_percent(inputs):
    """Global E-waste Monitor 2024 (Baldé et al. 2024): about 1 % of rare-earth demand is met by
    e-waste recycling (2022). That covers all e-waste recycling, so it bounds what today's practice
    recovers as magnets from the modelled products' end of life: ours must be above 0 and below
    1 % in 2022-2023."""
    df = estimate(["WORLD"], years=(2022, 2023), elements=["REE"], inputs=inputs)
    share = df[(df["product"] == "all") & (df.stage == "secondary_share")]["value"].to_numpy()
    assert np.all((share > 0) & (share < 0.01))
