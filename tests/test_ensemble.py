"""The Monte Carlo kernel (urbanmine.ensemble) against the pipeline of the central run.

The two compute the same numbers in different orders: the pipeline forms every country's stages
over named arrays and sums them into regions; the kernel groups countries into classes that share
a lifetime and a technology mix, convolves only the output years and sums stages into regions as
it goes. Every sample of every cell must agree to rounding, including the cases the kernel treats
specially: levers that differ by country (a lifetime factor, a technology shift, a liberation or
yield in one region only), regional profile variants, used exports and several scenarios.
"""

from pathlib import Path

import numpy as np
import pytest

import urbanmine.estimate as est

ROOT = Path(__file__).parents[1]

# levers that differ between countries, each with a range (so they are drawn per sample)
BY_COUNTRY = '''schema_version = 1
name = "by-country"
description = "test: levers that differ between countries"
base = "current-practice"
[[levers]]
parameter = "lifetime_factor"
product = "*"
region = "EU27"
value = 1.3
low = 1.1
high = 1.5
from_year = 2030
assumption = "test"
[[levers]]
parameter = "technology_shift"
product = "ev_traction_motor"
region = "CHN"
from = "pmsm"
to = "induction"
value = 0.3
low = 0.1
high = 0.5
from_year = 2028
assumption = "test"
[[levers]]
parameter = "technology_shift"
product = "wind_turbine"
region = "USA"
from = "onshore/dd_pmsg"
to = "onshore/no_pm"
value = 0.5
from_year = 2026
assumption = "test"
[[levers]]
parameter = "process_yield"
product = "*"
region = "JPN"
value = 0.6
low = 0.5
high = 0.7
from_year = 2030
assumption = "test"
[[levers]]
parameter = "collection"
product = "wind_turbine"
region = "IND"
value = 0.5
from_year = 2035
assumption = "test"
'''

YIELD_ONLY = '''schema_version = 1
name = "yield-only"
description = "test: only the process yield differs between countries"
base = "current-practice"
[[levers]]
parameter = "process_yield"
product = "*"
region = "KOR"
value = 0.5
from_year = 2025
assumption = "test"
'''


@pytest.fixture(scope="module")
def inputs():
    return est.load_inputs()


def _both(inputs, scenarios, regions, samples=6, years=None, products=None):
    years = np.arange(2018, 2061) if years is None else years
    scen = [inputs.scenario(s) for s in scenarios]
    products = products or list(inputs.profiles)
    out = []
    for kernel in (False, True):
        old = est.KERNEL
        est.KERNEL = kernel
        try:
            prepared, args, _, _ = est._setup(inputs, scen, products, regions, ["Nd", "Pr", "Dy", "Tb", "REE"],
                                              years, samples, 11)
            out.append(np.stack([est.sample_flows(inputs, prepared, p, scen, args, "middle", 0, samples, 4)
                                 for p in products]))
        finally:
            est.KERNEL = old
    return out


def _close(a, b):
    # [product, scenario, sample, region, element, stage, year]; tolerance relative to the
    # largest value of the same product, stage and element
    assert a.shape == b.shape
    scale = np.max(np.abs(a), axis=(1, 2, 3, 6), keepdims=True)
    off = np.abs(a - b) > 1e-12 * scale
    assert not off.any(), f"{off.sum()} cells differ, first at {np.argwhere(off)[0]}"


def test_shipped_scenarios_seven_regions_and_world(inputs):
    regions = est.resolve_regions(inputs.regions, ["all"])
    a, b = _both(inputs, ["current-practice", "announced-policies", "technical-potential"], regions)
    assert a.shape[3] == len(regions)
    assert np.any(a[:, 1] != a[:, 0])  # the policies do act
    _close(a, b)


def test_levers_by_country(inputs, tmp_path):
    path = tmp_path / "by-country.toml"
    path.write_text(BY_COUNTRY)
    regions = ["EU27", "CHN", "USA", "JPN", "IND", "DEU", "WORLD"]
    a, b = _both(inputs, ["current-practice", str(path)], regions)
    # the levers change what they act on: EU27's stock (longer lives), CHN's EV sales of Nd
    # (fewer magnet motors), JPN's recovered flows (yield)
    stock, sales, rec = (est.FLOW_STAGES.index(s) for s in ("in_use_stock", "sales", "recovered"))
    assert np.all(a[:, 1, :, 0, :, stock, -1] > a[:, 0, :, 0, :, stock, -1])
    assert np.all(a[0, 1, :, 1, 0, sales, -1] < a[0, 0, :, 1, 0, sales, -1])
    assert np.all(a[:, 1, :, 3, :, rec, -1] != a[:, 0, :, 3, :, rec, -1])
    _close(a, b)


def test_only_the_yield_differs_by_country(inputs, tmp_path):
    path = tmp_path / "yield-only.toml"
    path.write_text(YIELD_ONLY)
    a, b = _both(inputs, [str(path)], ["KOR", "JPN", "WORLD"])
    _close(a, b)


def test_countries_one_by_one_and_a_few_output_years(inputs):
    # every region a single country (more than 8: the membership is summed as a sparse matrix),
    # output years not consecutive; Japan's used exports move end of life to the importers
    regions = ["JPN", "NGA", "MNG", "DEU", "CHN", "USA", "ARE", "FRA", "IND", "BRA", "KEN", "NZL"]
    a, b = _both(inputs, ["current-practice"], regions, years=np.array([2020, 2031, 2050]))
    net = est.FLOW_STAGES.index("net_export")
    assert np.all(a[0, 0, :, 0, :4, net, -1] > 0)  # Japan exports used vehicles
    _close(a, b)


def test_one_sample_equals_the_central_run(inputs):
    # the kernel with the central parameters (one sample's shape) gives the central run's numbers
    scen = [inputs.scenario("current-practice")]
    regions = est.resolve_regions(inputs.regions, ["all"])
    prepared, args, _, _ = est._setup(inputs, scen, list(inputs.profiles), regions,
                                      ["Nd", "Pr", "Dy", "Tb", "REE"], np.arange(2020, 2061), 0, None)
    for p, prep in prepared.items():
        yi, membership, ei = args[p]
        params = est._product_params(prep.profile, prep.years, None, est.ELEMENTS, prep.variants)
        kernel = est._kernel_cells(inputs, prep, p, scen[0], params, None, None, yi, membership, ei, "middle", 1)
        central = est._product_flows(inputs, prep, p, scen, slice(None), True, yi, membership, ei, "middle", True)
        _close(central[None], kernel[None, None])
