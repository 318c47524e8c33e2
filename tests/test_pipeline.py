"""The pipeline's stages over named arrays: worked by hand, independent of axis order."""

import numpy as np
import pytest
import xarray as xr

from urbanmine import Fixed
from urbanmine.errors import DimensionMismatchError
from urbanmine.pipeline import cohort_model, element_sales, end_of_life_chain, named, technology_units, to_regions


def test_units_and_sales_by_hand():
    # two countries, two segments, technologies a (segment 0) and b (segment 1), two cohorts
    inflow = named([[[10.0, 20.0], [1.0, 2.0]], [[0.0, 5.0], [3.0, 0.0]]], ("country", "segment", "cohort"))
    shares = named([[0.5, 0.25], [1.0, 1.0]], ("technology", "cohort"))
    seg = xr.DataArray([0, 1], dims="technology")
    units = technology_units(inflow, shares, seg)
    np.testing.assert_allclose(units.transpose("country", "technology", "cohort").values,
                               [[[5.0, 5.0], [1.0, 2.0]], [[0.0, 1.25], [3.0, 0.0]]])
    magnet = named([[2.0, 2.0], [4.0, 4.0]], ("technology", "cohort"))  # kg/unit
    fractions = named([[[0.25, 0.25], [0.1, 0.1]], [[0.5, 0.5], [0.0, 0.0]]], ("technology", "element", "cohort"))
    sales = element_sales(units, magnet, fractions).transpose("country", "element", "cohort")
    # country 0, element 0, cohort 0: 5 x 2 x 0.25 + 1 x 4 x 0.5 = 4.5 kg = 0.0045 t
    assert sales.values[0, 0, 0] == pytest.approx(0.0045)
    assert sales.values[1, 1, 1] == pytest.approx(1.25 * 2 * 0.1 / 1000)
    # the same stage with the inputs' axes in another order gives the same numbers
    again = element_sales(units.transpose("cohort", "technology", "country"), magnet.transpose(),
                          fractions.transpose("element", "cohort", "technology"))
    np.testing.assert_allclose(again.transpose("country", "element", "cohort").values, sales.values)


def test_cohort_model_and_chain():
    sales = named(np.array([[[1.0, 0.0, 0.0, 2.0]]]), ("country", "element", "cohort"), drop=())
    stock, eol = cohort_model(sales, Fixed(2.0), "middle")
    # a fixed 2-year life: what enters in year c leaves in year c + 2
    np.testing.assert_allclose(eol.values[0, 0], [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(stock.values[0, 0], [1.0, 1.0, 0.0, 2.0])
    assert eol.dims == ("country", "element", "year")
    rates = named([0.5, 0.5, 0.5, 1.0], ("year",))
    chain = end_of_life_chain(eol, rates, 0.5, named([0.8], ("country",), drop=()))
    # year 2: 1 t reaches end of life x 0.5 collected x 0.5 liberated x 0.8 yield
    rec = chain["recovered"].transpose("country", "element", "year").values
    assert rec[0, 0, 2] == pytest.approx(0.2) and rec[0, 0, 3] == 0.0
    assert float(chain["recovered"].sum()) <= float(chain["liberated"].sum()) <= float(chain["collected"].sum())
    with pytest.raises(DimensionMismatchError, match="do not broadcast against inflow"):
        cohort_model(sales, Fixed(np.array([[[[2.0]]], [[[3.0]]]])), "middle")


def test_to_regions_sums_members():
    da = named(np.arange(12.0).reshape(3, 4), ("country", "year"))
    m = xr.DataArray([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]], dims=("region", "country"))
    reg = to_regions(da, m)
    np.testing.assert_allclose(reg.transpose("region", "year").values,
                               [da.values[0] + da.values[1], da.values[2], da.values.sum(axis=0)])
