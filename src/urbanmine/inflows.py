"""Regional inflows (sales, installations) by demand path, region, product, segment and year.

The shipped table ``data/inflows.csv`` is built by ``scripts/build_data.py`` from the raw inputs
in ``data-raw/`` (see ``data/README.md``). Columns::

    demand,region,product,segment,year,value,unit,method,source

``value`` is units put into use per year in ``unit`` (``device/yr``, ``vehicle/yr``,
``MW/yr``); ``method`` says how each value was obtained and ``source`` lists source keys of
``data/sources.csv``. ``demand`` names the demand path (``stated``, ``accelerated``; see
``data/demand_paths.csv``). Every (demand, region, product, segment) must cover the same
consecutive years with no gaps and no duplicates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .defaults import default_dir
from .errors import InputDataError

__all__ = ["REGIONS", "AGGREGATE", "INFLOW_COLUMNS", "load_inflows", "load_regions", "load_demand_paths",
           "inflow_array"]

REGIONS = ("CHN", "EU27", "USA", "JPN", "KOR", "IND", "ROW")
"""Region codes, in canonical order. ``WORLD`` is their sum."""
AGGREGATE = "WORLD"
INFLOW_COLUMNS = ("demand", "region", "product", "segment", "year", "value", "unit", "method", "source")


def _data_dir(data) -> Path:
    if data is None:
        return default_dir("data")
    path = Path(data)
    if path.is_file():
        raise InputDataError(f"{path}: is a file, expected a data directory (with inflows.csv, "
                             "regressors.csv, policy_years.csv)")
    if not path.is_dir():
        raise InputDataError(f"{path}: data directory not found")
    return path


def _read_csv(path: Path, columns):
    from .io import read_table

    return read_table(path, columns)


def load_regions(data=None):
    """The regions table (``code,name,definition``)."""
    path = _data_dir(data) / "regions.csv"
    return _read_csv(path, ("code", "name", "definition"))


def load_demand_paths(data=None):
    """The demand paths of the inflow data (``demand,description``)."""
    path = _data_dir(data) / "demand_paths.csv"
    return _read_csv(path, ("demand", "description"))


def load_inflows(data=None):
    """Read and validate ``inflows.csv``; return a pandas DataFrame.

    Raises
    ------
    InputDataError
        One line naming the file, the row (as ``line N``), the field, the value and what was
        expected: unknown region, non-numeric, negative or missing values, non-integer years,
        duplicates, gaps in years, or series that cover different years.
    """
    import pandas as pd

    path = _data_dir(data) / "inflows.csv"
    df = _read_csv(path, INFLOW_COLUMNS)

    def line(i):  # header is line 1
        return i + 2

    for col in ("demand", "region", "product", "segment", "unit"):
        bad = df[col].isna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputDataError(f"{path}, line {line(i)}: {col} is empty")
    bad_region = ~df["region"].isin(REGIONS)
    if bad_region.any():
        i = int(np.argmax(bad_region.to_numpy()))
        raise InputDataError(
            f"{path}, line {line(i)}: region = {df['region'].iloc[i]!r}, expected one of "
            f"{', '.join(REGIONS)} ({AGGREGATE} is computed as their sum)"
        )
    year = pd.to_numeric(df["year"], errors="coerce")
    bad_year = year.isna() | (year != year.round())
    if bad_year.any():
        i = int(np.argmax(bad_year.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: year = {df['year'].iloc[i]!r}, expected an integer year")
    df["year"] = year.astype(int)
    value = pd.to_numeric(df["value"], errors="coerce")
    bad_value = value.isna() | ~np.isfinite(value)
    if bad_value.any():
        i = int(np.argmax(bad_value.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: value = {df['value'].iloc[i]!r}, expected a number")
    neg = value < 0
    if neg.any():
        i = int(np.argmax(neg.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: value = {value.iloc[i]:g}, expected a value >= 0")
    df["value"] = value.astype(float)
    key = ["demand", "region", "product", "segment", "year"]
    dup = df.duplicated(key, keep="first")
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        r = df.iloc[i]
        raise InputDataError(
            f"{path}, line {line(i)}: duplicate row for demand {r.demand}, region {r.region}, "
            f"product {r['product']}, segment {r.segment}, year {r.year}"
        )
    years = np.sort(df["year"].unique())
    if np.any(np.diff(years) != 1):
        gap = int(np.nonzero(np.diff(years) != 1)[0][0])
        raise InputDataError(
            f"{path}: years jump from {years[gap]} to {years[gap + 1]}; expected consecutive years"
        )
    counts = df.groupby(key[:-1])["year"].nunique()
    short = counts[counts != years.size]
    if len(short):
        k = short.index[0]
        have = set(df[(df[key[:-1]] == pd.Series(k, index=key[:-1])).all(axis=1)]["year"])
        missing = sorted(set(years) - have)
        raise InputDataError(
            f"{path}: demand {k[0]}, region {k[1]}, product {k[2]}, segment {k[3]} lacks year "
            f"{missing[0]}; expected every year {years[0]}-{years[-1]}"
        )
    units = df.groupby("product")["unit"].nunique()
    if (units > 1).any():
        p = units[units > 1].index[0]
        raise InputDataError(f"{path}: product {p} has more than one unit: "
                             f"{', '.join(sorted(df[df['product'] == p]['unit'].unique()))}")
    # every region for every demand path, product and segment
    combos = df.groupby(["demand", "product", "segment"])["region"].nunique()
    lacking = combos[combos != len(REGIONS)]
    if len(lacking):
        s, p, g = lacking.index[0]
        have = set(df[(df.demand == s) & (df["product"] == p) & (df.segment == g)].region)
        raise InputDataError(
            f"{path}: demand {s}, product {p}, segment {g} lacks region "
            f"{sorted(set(REGIONS) - have)[0]}; expected all of {', '.join(REGIONS)}"
        )
    return df


def inflow_array(inflows, demand: str, product: str, segments, regions=REGIONS):
    """Inflow as an array ``[region, segment, year]`` [unit/yr] and its years.

    Raises :class:`InputDataError` for an unknown demand path, product or segment.
    """
    sub = inflows[(inflows["demand"] == demand) & (inflows["product"] == product)]
    if sub.empty:
        known = sorted(inflows["demand"].unique())
        if demand not in known:
            raise InputDataError(f"unknown demand path {demand!r}; expected one of {', '.join(known)}")
        raise InputDataError(f"no inflows for product {product!r} in demand path {demand!r}")
    have = set(sub["segment"])
    for s in segments:
        if s not in have:
            raise InputDataError(
                f"no inflows for segment {s!r} of product {product!r}; the data has {', '.join(sorted(have))}"
            )
    years = np.sort(sub["year"].unique())
    cube = sub.set_index(["region", "segment", "year"])["value"]
    import pandas as pd

    idx = pd.MultiIndex.from_product([list(regions), list(segments), years])
    arr = cube.reindex(idx).to_numpy().reshape(len(regions), len(segments), years.size)
    return arr, years
