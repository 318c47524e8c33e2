"""Inflows (sales, installations) by demand path, country or region, product, segment and year.

The shipped table ``data/inflows.csv`` is built by ``scripts/build_data.py`` from the raw inputs
in ``data-raw/`` (see ``data/README.md``). Columns::

    demand,region,product,segment,year,value,unit,method,source,split_key

``region`` is a country code or a region (a grouping of countries, :mod:`urbanmine.regions`).
A region's row gives the total of its members: countries with rows of their own keep them, and
the rest of the total is split over the other members in proportion to ``split_key`` (a key of
``data/split_keys.csv``: ``population``, ``gdp_ppp``, ``mobile_subscriptions``). So a user adding
a product can give inflows for a few regions or for WORLD only (:func:`country_inflows`).

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

__all__ = ["INFLOW_COLUMNS", "load_inflows", "load_demand_paths", "load_split_keys", "country_inflows",
           "data_dir", "load_used_exports"]

INFLOW_COLUMNS = ("demand", "region", "product", "segment", "year", "value", "unit", "method", "source")


def data_dir(data) -> Path:
    """The data directory ``data`` (default: the shipped ``data/``), checked to be a directory."""
    return _data_dir(data)


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


def load_demand_paths(data=None):
    """The demand paths of the inflow data (``demand,description``)."""
    path = _data_dir(data) / "demand_paths.csv"
    return _read_csv(path, ("demand", "description"))


def load_inflows(data=None, regions=None):
    """Read and validate ``inflows.csv``; return a pandas DataFrame.

    ``regions`` (:class:`~urbanmine.regions.Regions`, default: those of ``data``) says which
    codes the ``region`` column may hold; codes are normalised to their canonical spelling.

    Raises
    ------
    InputDataError
        One line naming the file, the row (as ``line N``), the field, the value and what was
        expected: unknown region, a region row without a known split key, non-numeric, negative
        or missing values, non-integer years, duplicates, gaps in years, or series that cover
        different years.
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
    if regions is None:
        from .regions import load_regions

        regions = load_regions(data)
    canon = {}
    for code in df["region"].unique():
        try:
            canon[code] = regions.resolve(code)
        except InputDataError as exc:
            i = int(np.argmax((df["region"] == code).to_numpy()))
            raise InputDataError(f"{path}, line {line(i)}: region: {exc}") from None
    df["region"] = df["region"].map(canon)
    if "split_key" not in df.columns:
        df["split_key"] = np.nan
    grouped = ~df["region"].map(regions.is_country)
    keys = ("population", "gdp_ppp", "mobile_subscriptions")
    bad_key = grouped & ~df["split_key"].isin(keys)
    if bad_key.any():
        i = int(np.argmax(bad_key.to_numpy()))
        raise InputDataError(
            f"{path}, line {line(i)}: split_key = {df['split_key'].iloc[i]!r} for region "
            f"{df['region'].iloc[i]}, expected one of {', '.join(keys)} (how the region's total is "
            "split over its countries)"
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
    return df


def load_split_keys(data=None, regions=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split keys of ``data/split_keys.csv``: key -> (years, values ``[country, year]``).

    The table is wide (``key,country,unit,source,1990,...,2060``); countries in the order of
    ``regions.countries``. A country missing from a key is an error.
    """
    import pandas as pd

    path = _data_dir(data) / "split_keys.csv"
    df = _read_csv(path, ("key", "country", "unit", "source"))
    if regions is None:
        from .regions import load_regions

        regions = load_regions(data)
    year_cols = [c for c in df.columns if c.isdigit()]
    years = np.array([int(c) for c in year_cols])
    out = {}
    for key, sub in df.groupby("key", sort=False):
        vals = sub.set_index("country")[year_cols].apply(pd.to_numeric, errors="coerce")
        missing = [c for c in regions.countries if c not in vals.index]
        if missing:
            raise InputDataError(f"{path}: key {key} has no row for country {missing[0]}")
        arr = vals.reindex(regions.countries).to_numpy(dtype=float)
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise InputDataError(f"{path}: key {key} has a missing or negative value")
        out[key] = (years, arr)
    return out


def country_inflows(inflows, keys, regions, demand: str, product: str, segments) -> tuple[np.ndarray, np.ndarray]:
    """Inflow of every country ``[country, segment, year]`` [unit/yr] and its years.

    Country rows are taken as they are. Region rows are handled from the smallest region to the
    largest: the region's value minus what its members already have (their own rows, or a
    smaller region's split) is split over its remaining members in proportion to the row's
    ``split_key``. A region whose members already exceed its value is an error; so is a region
    whose members all have their own rows but do not add up to it.

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
    years = np.sort(inflows["year"].unique())
    n_c = len(regions.countries)
    out = np.zeros((n_c, len(segments), years.size))
    for j, seg in enumerate(segments):
        rows = sub[sub["segment"] == seg]
        table = rows.pivot_table(index="region", columns="year", values="value", aggfunc="sum").reindex(columns=years)
        if table.isna().any().any():
            r = table.index[table.isna().any(axis=1)][0]
            raise InputDataError(f"inflows: demand {demand}, product {product}, segment {seg}, region {r} "
                                 "does not cover every year")
        values = np.zeros((n_c, years.size))
        assigned = np.zeros(n_c, bool)
        countries = [r for r in table.index if regions.is_country(r)]
        if countries:
            idx = regions.index(countries)
            values[idx] = table.loc[countries].to_numpy()
            assigned[idx] = True
        groups = sorted((r for r in table.index if not regions.is_country(r)),
                        key=lambda g: len(regions.members(g)))
        key_of = rows.drop_duplicates("region").set_index("region")["split_key"]
        for g in groups:
            idx = regions.index(regions.members(g))
            total = table.loc[g].to_numpy()
            rest = total - values[idx].sum(axis=0)
            tol = 1e-5 * np.maximum(total, 1.0)
            if np.any(rest < -tol):
                y = years[np.argmax(rest < -tol)]
                raise InputDataError(
                    f"inflows: {product}/{seg}, demand {demand}: the members of {g} already have "
                    f"{values[idx].sum(axis=0)[years == y][0]:g} in {y}, more than {g}'s {total[years == y][0]:g}"
                )
            open_ = idx[~assigned[idx]]
            if open_.size == 0:
                if np.any(np.abs(rest) > tol):
                    y = years[np.argmax(np.abs(rest) > tol)]
                    raise InputDataError(f"inflows: {product}/{seg}, demand {demand}: every member of {g} has "
                                         f"its own rows, but they do not add up to {g}'s value in {y}")
                continue
            kyears, karr = keys[key_of[g]]
            pos = np.searchsorted(kyears, np.clip(years, kyears[0], kyears[-1]))  # held outside its years
            k = karr[open_][:, pos]
            denom = k.sum(axis=0)
            share = np.where(denom > 0, k / np.where(denom > 0, denom, 1.0), 1.0 / open_.size)
            values[open_] = np.maximum(rest, 0.0) * share
            assigned[open_] = True
        out[:, j] = values
    return out, years


EXPORT_COLUMNS = ("exporter", "product", "year", "share", "destination", "split_key", "method", "source")


def load_used_exports(data=None, regions=None, keys=None) -> dict:
    """Used products leaving a country at the end of their use there (``data/used_exports.csv``).

    Columns ``exporter,product,year,share,destination,split_key,method,source``: in ``year``, a
    ``share`` [1] of the products of ``product`` whose use ends in country ``exporter`` leaves it
    as used goods and reaches end of life in ``destination`` (a country or a region, split over
    its countries other than the exporter by ``split_key``). An exporter may have several
    destinations in a year; their shares add up to at most 1. Years without a row have no
    exports. The file is optional: a data directory without it has none.

    Returns ``product -> (exporters [E], years [Y], share [E, Y], destination [country, E, Y])``:
    the total share exported, and where it goes (weights summing to 1 over the countries of
    ``regions`` wherever the share is above 0).
    """
    import pandas as pd

    path = _data_dir(data) / "used_exports.csv"
    if not path.exists():
        return {}
    df = _read_csv(path, EXPORT_COLUMNS)
    if regions is None:
        from .regions import load_regions

        regions = load_regions(data)
    if keys is None:
        keys = load_split_keys(data, regions)

    def line(i):
        return i + 2

    for col in ("exporter", "product", "destination", "split_key"):
        bad = df[col].isna()
        if bad.any():
            raise InputDataError(f"{path}, line {line(int(np.argmax(bad.to_numpy())))}: {col} is empty")
    for i, code in enumerate(df["exporter"]):
        if not regions.is_country(str(code)):
            raise InputDataError(f"{path}, line {line(i)}: exporter = {code!r}, expected a country code "
                                 f"(ISO 3166-1 alpha-3){regions.suggest(str(code))}")
    dest = {}
    for i, code in enumerate(df["destination"]):
        if code not in dest:
            try:
                dest[code] = regions.resolve(code, "destination")
            except InputDataError as exc:
                raise InputDataError(f"{path}, line {line(i)}: {exc}") from None
    bad = ~df["split_key"].isin(list(keys))
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: split_key = {df['split_key'].iloc[i]!r}, expected one "
                             f"of {', '.join(keys)}")
    year = pd.to_numeric(df["year"], errors="coerce")
    bad = year.isna() | (year != year.round())
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: year = {df['year'].iloc[i]!r}, expected an integer year")
    share = pd.to_numeric(df["share"], errors="coerce")
    bad = share.isna() | (share < 0) | (share > 1)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: share = {df['share'].iloc[i]!r}, expected a fraction "
                             "within [0, 1]")
    df = df.assign(year=year.astype(int), share=share.astype(float), destination=df["destination"].map(dest))
    dup = df.duplicated(["exporter", "product", "year", "destination"])
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise InputDataError(f"{path}, line {line(i)}: duplicate row for exporter {df['exporter'].iloc[i]}, "
                             f"product {df['product'].iloc[i]}, year {df['year'].iloc[i]}, destination "
                             f"{df['destination'].iloc[i]}")
    total = df.groupby(["exporter", "product", "year"])["share"].sum()
    if (total > 1 + 1e-9).any():
        e, p, y = total[total > 1 + 1e-9].index[0]
        raise InputDataError(f"{path}: exporter {e}, product {p}, year {y}: the destinations' shares add up to "
                             f"{total.loc[(e, p, y)]:.4g}, expected at most 1")
    out = {}
    n_c = len(regions.countries)
    for product, sub in df.groupby("product", sort=True):
        exporters = sorted(sub["exporter"].unique())
        years = np.arange(int(sub["year"].min()), int(sub["year"].max()) + 1)
        sh = np.zeros((len(exporters), years.size))
        weights = np.zeros((n_c, len(exporters), years.size))
        for (code, d, key), rows in sub.groupby(["exporter", "destination", "split_key"], sort=True):
            e = exporters.index(code)
            members = [c for c in regions.members(d) if c != code]
            if not members:
                raise InputDataError(f"{path}: destination {d} of exporter {code} has no country other than "
                                     "the exporter")
            idx = regions.index(members)
            kyears, karr = keys[key]
            k = karr[idx][:, np.searchsorted(kyears, np.clip(years, kyears[0], kyears[-1]))]
            denom = k.sum(axis=0)
            w = np.where(denom > 0, k / np.where(denom > 0, denom, 1.0), 1.0 / idx.size)  # [member, Y]
            part = np.zeros(years.size)
            part[np.searchsorted(years, rows["year"].to_numpy())] = rows["share"].to_numpy()
            sh[e] += part
            weights[idx, e] += w * part
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(sh[None] > 0, weights / np.where(sh[None] > 0, sh[None], 1.0), 0.0)
        out[product] = (exporters, years, sh, weights)
    return out
