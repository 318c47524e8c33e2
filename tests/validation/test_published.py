"""Cross-checks of the shipped defaults against published figures.

Each test names its source, the published figure, how ours is computed, and a tolerance
justified by how the figure was published. Where ours differs beyond it, the test is marked as
an expected failure with the reason (and ``data/README.md`` says why); such a test fails the
suite once the data are fixed, so that the mark is removed then. Nothing here is tuned.
"""

import numpy as np
import pytest

from urbanmine.estimate import content_per_unit, estimate, load_inputs


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


# Rare earths per MW by drivetrain (Carrara et al. 2020, JRC; t/GW = kg/MW, Nd+Pr+Dy+Tb):
# DD-PMSG 239, geared PMSG 62, DFIG 14, EESG 44 (one copy) or 0 (another). The IEA's (2021) 239
# (offshore) and 14 (onshore) kg/MW are the JRC's DD-PMSG and DFIG totals, i.e. single-technology
# values, not fleet averages, so they bound a mix rather than match it.
JRC = {"dd": 239.0, "geared": 62.0, "dfig": 14.0, "eesg": 44.0}


def test_rare_earths_per_mw_onshore_wind(inputs):
    """Onshore wind, world average per MW of 2021 capacity. Two published fleet mixes bracket it:
    ELMA (Deetman et al. 2021) 20.3 kg Nd/MW, i.e. 27 kg of rare earths at the JRC's DD-PMSG
    grade (Nd 180 of 239); and the JRC's own scenario mix for the 2020s (DD-PMSG 18.9 %, geared
    PMSG 14.8 %, DFIG/SCIG 60.3 %, EESG 6.0 %: 65 kg/MW, derived). Ours must lie between."""
    ours = content_per_unit(inputs, "wind_turbine", "onshore", 2021)
    jrc_mix = 0.1889 * JRC["dd"] + 0.1476 * JRC["geared"] + 0.6032 * JRC["dfig"] + 0.0603 * JRC["eesg"]
    assert 20.3 * 239 / 180 <= ours <= jrc_mix


def test_rare_earths_per_mw_offshore_wind(inputs):
    """Offshore wind, world average per MW of 2021 capacity: between the JRC's scenario mix for
    the 2020s (DD-PMSG 56.8 %, geared PMSG 18.2 %, DFIG/SCIG 19.7 %, EESG 5.3 %: 152 kg/MW,
    derived) and ELMA's 158 kg Nd/MW (210 kg of rare earths at the JRC's DD-PMSG grade), and
    below the IEA's 239 kg/MW (all direct drive)."""
    ours = content_per_unit(inputs, "wind_turbine", "offshore", 2021)
    jrc_mix = 0.568 * JRC["dd"] + 0.182 * JRC["geared"] + 0.1974 * JRC["dfig"] + 0.0526 * JRC["eesg"]
    assert jrc_mix <= ours <= 158.337 * 239 / 180 <= 239.0


@pytest.mark.xfail(strict=True, reason=(
    "ours (6.0 kt, 51 kg/MW on average) is built bottom-up from each region's drivetrain mix; "
    "the IEA's 9.7 kt implies about 83 kg/MW over 117 GW, above both ours and SMM's figure for "
    "China's 2025 installations (2,527 t NdFeB for 26.3 GW, about 30 kg rare earths per MW), so "
    "the IEA assumes more PM capacity than the market data found here support (data/README.md)"))
def test_rare_earth_demand_of_wind_2023(inputs):
    """IEA Critical Minerals Data Explorer (May 2024, the data of the Global Critical Minerals
    Outlook 2024): magnet rare-earth demand (Nd+Pr+Dy+Tb) of wind 9.743 kt in 2023. A modelled
    figure from a different method: ±20 %."""
    df = estimate(["WORLD"], years=(2023, 2023), products=["wind_turbine"], elements=["REE"], inputs=inputs)
    ours = float(df[df.stage == "sales"]["value"].iloc[0]) / 1000  # kt
    assert ours == pytest.approx(9.743, rel=0.2)


def _world_segment_demand(inputs, product, segment, year):
    """World rare earths (Nd+Pr+Dy+Tb) in one segment's sales of ``year`` [t] (stated demand path),
    from the inflow rows and the profile's content, by hand."""
    prof = inputs.profiles[product]
    rows = inputs.inflows[(inputs.inflows.demand == "stated") & (inputs.inflows["product"] == product)
                          & (inputs.inflows.segment == segment) & (inputs.inflows.year == year)]
    seven = {"CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW"}
    units = float(rows[rows.region.isin(seven)].value.sum())
    return units * _per_unit(prof, segment, year) / 1000.0


def test_rare_earth_demand_of_plug_in_cars_2023(inputs):
    """IEA Critical Minerals Data Explorer (May 2024, the data of the Global Critical Minerals
    Outlook 2024): magnet rare-earth demand (Nd+Pr+Dy+Tb) of electric vehicles 6.578 kt in 2023.
    The IEA's electric vehicles are plug-ins of every mode (cars, buses, trucks, two- and
    three-wheelers); ours here are plug-in cars only (BEV + PHEV, without the full hybrids), so
    ours must be below it, and not by more than a quarter (cars are most of the IEA's EV sales;
    its split of magnet demand by mode was not found, so the quarter is a judgement)."""
    ours = sum(_world_segment_demand(inputs, "ev_traction_motor", s, 2023) for s in ("bev", "phev")) / 1000
    assert 0.75 * 6.578 <= ours <= 6.578


def test_world_full_hybrids_2023_exceed_toyotas(inputs):
    """Toyota sold 3.42 million hybrids worldwide in 2023 (Toyota press release as reported): a
    lower bound of the world's full-hybrid sales, which also count Honda's, Hyundai-Kia's, Ford's,
    Nissan's and others'. A blog's 'about 10 million hybrids' (likely with mild hybrids) is an
    upper bound."""
    rows = inputs.inflows[(inputs.inflows.demand == "stated") & (inputs.inflows.segment == "hev")
                          & (inputs.inflows.year == 2023)]
    world = float(rows[rows.region.isin({"CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW"})].value.sum())
    assert 3.42e6 <= world <= 10e6


def test_secondary_production_today_is_about_one_percent(inputs):
    """Global E-waste Monitor 2024 (Baldé et al. 2024): about 1 % of rare-earth demand is met by
    e-waste recycling (2022). That covers all e-waste recycling, so it bounds what today's practice
    recovers as magnets from the modelled products' end of life: ours must be above 0 and below
    1 % in 2022-2023."""
    df = estimate(["WORLD"], years=(2022, 2023), elements=["REE"], inputs=inputs)
    share = df[(df["product"] == "all") & (df.stage == "secondary_share")]["value"].to_numpy()
    assert np.all((share > 0) & (share < 0.01))
