"""The stages of the estimate as public functions over named arrays (xarray).

Every array carries named dimensions, matched by name, never by position:

==============  =================================================================
``sample``      Monte Carlo sample (absent for the central run)
``country``     ISO 3166-1 alpha-3 code, the base unit
``region``      a grouping of countries (output)
``segment``     the split of a product's inflow data (``bev``/``phev``, ``onshore``/``offshore``)
``technology``  a technology of a product (motor type, drivetrain)
``element``     ``Nd``, ``Pr``, ``Dy``, ``Tb``
``cohort``      the year products are sold (put into use)
``year``        the calendar year of stocks and flows
==============  =================================================================

A dimension of length one is dropped rather than broadcast (xarray broadcasts by name: a value
that does not vary by sample or country simply has no such dimension). Each function can be
called on its own; none reads a file. :mod:`urbanmine.estimate` composes them::

    units    = technology_units(inflow, shares, segment_of)            [unit/yr]
    sales    = element_sales(units, magnet, fractions)                 [t/yr]
    stock, end_of_life = cohort_model(sales, lifetime, inflow_at)      [t], [t/yr]
    end_of_life, net_export = used_exports(end_of_life, exporter, share, destination)  [t/yr]
    chain    = end_of_life_chain(end_of_life, collection, liberation, process_yield)   [t/yr]
    regional = to_regions(chain["recovered"], membership)              [t/yr]
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import units as _units
from .stocks import inflow_driven

__all__ = ["DIMS", "named", "technology_units", "element_sales", "cohort_model", "used_exports",
           "end_of_life_chain", "to_regions", "membership_array"]

DIMS = ("sample", "country", "region", "segment", "technology", "element", "cohort", "year")
"""Dimension names, in the canonical order of the numpy arrays behind them."""
_LIFETIME_ORDER = ("sample", "country", "element", "cohort")


def named(values, dims, drop=("sample", "country"), **coords) -> xr.DataArray:
    """A DataArray of ``values`` with ``dims``; axes in ``drop`` of length one are dropped."""
    da = xr.DataArray(np.asarray(values), dims=dims, coords={k: v for k, v in coords.items() if k in dims})
    single = [d for d in drop if d in da.dims and da.sizes[d] == 1 and d not in coords]
    return da.squeeze(single, drop=True) if single else da


def technology_units(inflow: xr.DataArray, shares: xr.DataArray, segment_of: xr.DataArray) -> xr.DataArray:
    """Units sold of each technology [unit/yr].

    Parameters
    ----------
    inflow : DataArray ``[country, segment, cohort]``
        Products put into use per year, by segment of the inflow data [unit/yr].
    shares : DataArray ``[technology, cohort]`` (optionally ``sample``, ``country``)
        Share of each technology within its segment [1].
    segment_of : DataArray ``[technology]``
        Integer position of each technology's segment along ``inflow``'s ``segment``.
    """
    return inflow.isel(segment=segment_of) * shares


def element_sales(units: xr.DataArray, magnet: xr.DataArray, fractions: xr.DataArray) -> xr.DataArray:
    """Elements sold in new products [t/yr]: units x magnet mass x element mass fraction, summed
    over technologies.

    ``units`` ``[country, technology, cohort]`` [unit/yr]; ``magnet`` ``[technology, cohort]``
    [kg/unit]; ``fractions`` ``[technology, element, cohort]`` [1]; any may have ``sample``.
    Returns ``[country, element, cohort]`` (and ``sample``) [t/yr].
    """
    return xr.dot(units, magnet * fractions, dim="technology", optimize=True) * _units.T_PER_KG


def cohort_model(sales: xr.DataArray, lifetime, inflow_at: str = "middle", *, check: bool = True):
    """In-use stock [t] and end-of-life outflow [t/yr] of an inflow-driven cohort model.

    ``sales`` has a ``cohort`` dimension (consecutive years); the results have ``year`` instead.
    The lifetime's parameters broadcast against the numpy order ``(sample, country, element,
    cohort)`` of the dimensions ``sales`` has (see :func:`urbanmine.stocks.inflow_driven`): give
    ``sales`` every dimension the lifetime varies over.
    """
    from .errors import DimensionMismatchError

    order = [d for d in _LIFETIME_ORDER if d in sales.dims]
    extra = [d for d in sales.dims if d not in order]
    arr = sales.transpose(*extra, *order)
    res = inflow_driven(arr.values, lifetime, inflow_at, check=check)
    if np.broadcast_shapes(arr.shape, res.stock.shape) != arr.shape:
        raise DimensionMismatchError(
            f"cohort_model: the lifetime varies over more than sales {dict(arr.sizes)}; give sales "
            "the sample or country dimension the lifetime has"
        )
    dims = [*extra, *order[:-1], "year"]
    coords = {d: arr.coords[d] for d in dims[:-1] if d in arr.coords}
    if "cohort" in arr.coords:
        coords["year"] = arr.coords["cohort"].values
    stock = xr.DataArray(np.broadcast_to(res.stock, arr.shape), dims=dims, coords=coords)
    outflow = xr.DataArray(np.broadcast_to(res.outflow, arr.shape), dims=dims, coords=coords)
    return stock, outflow


def used_exports(end_of_life: xr.DataArray, exporter, share, destination):
    """Move the used products exported at the end of their use to where they reach end of life.

    Parameters
    ----------
    end_of_life : DataArray ``[.., country, .., year]``
        Outflow from use in each country [t/yr].
    exporter : array of int ``[exporter]``
        Positions of the exporting countries along ``country``.
    share : array ``[exporter, year]``
        Share of each exporter's outflow leaving it as used goods [1].
    destination : array ``[country, exporter, year]``
        Where each exporter's used goods go: weights summing to at most 1 over ``country`` (less
        where destinations are not among the countries modelled) [1].

    Returns
    -------
    (end_of_life, net_export) : DataArrays like ``end_of_life`` [t/yr]
        End of life in each country (its own products not exported, plus those it imports) and
        net exports (exported minus imported), so that for every country sales - end of life -
        net export = change in stock, and net exports sum to zero over every exporter's
        destinations and the exporter.
    """
    n_c = end_of_life.sizes["country"]
    exporter = np.asarray(exporter, dtype=int)
    share = xr.DataArray(np.asarray(share, dtype=float), dims=("exporter", "year"))
    leaving = end_of_life.isel(country=xr.DataArray(exporter, dims="exporter")) * share
    origin = np.zeros((n_c, exporter.size))
    origin[exporter, np.arange(exporter.size)] = 1.0
    moved = xr.DataArray(origin, dims=("country", "exporter")) - xr.DataArray(
        np.asarray(destination, dtype=float), dims=("country", "exporter", "year"))
    net = xr.dot(moved, leaving, dim="exporter").transpose(*end_of_life.dims)
    return end_of_life - net, net


def end_of_life_chain(end_of_life: xr.DataArray, collection, liberation, process_yield) -> xr.Dataset:
    """Collected, liberated and recovered flows [t/yr] from the end-of-life outflow.

    The three rates [1] are DataArrays over any of ``sample``, ``country``, ``year`` (the year
    products reach end of life); they broadcast against ``end_of_life`` by name.
    """
    rates = (collection, liberation, process_yield)
    if all(isinstance(r, xr.DataArray) and set(r.dims) <= set(end_of_life.dims) for r in rates):
        # the rates' dimensions are among the outflow's: multiply the numpy arrays in the
        # outflow's order (the same products, without xarray's aligning copies)
        dims = end_of_life.dims
        flows, out = end_of_life.values, {}
        for name, r in zip(("collected", "liberated", "recovered"), rates):
            order = [d for d in dims if d in r.dims]
            arr = r.transpose(*order).values
            arr = arr.reshape([arr.shape[order.index(d)] if d in r.dims else 1 for d in dims])
            flows = flows * arr
            out[name] = xr.DataArray(flows, dims=dims, coords=end_of_life.coords)
        return xr.Dataset(out)
    collected = end_of_life * collection
    liberated = collected * liberation
    recovered = liberated * process_yield
    return xr.Dataset({"collected": collected, "liberated": liberated, "recovered": recovered})


def membership_array(regions, codes) -> xr.DataArray:
    """0/1 DataArray ``[region, country]`` of the asked ``codes`` (:class:`~urbanmine.regions.Regions`)."""
    return xr.DataArray(regions.membership(codes), dims=("region", "country"),
                        coords={"region": list(codes), "country": list(regions.countries)})


def to_regions(da: xr.DataArray, membership: xr.DataArray) -> xr.DataArray:
    """Sum ``da`` over the countries of each region: ``[.., country, ..]`` -> ``[.., region, ..]``.

    One matrix product per leading index, ``membership [region, country] @ da [country, rest]``,
    on the array as it lies in memory (no transposed copy of the large country array).
    """
    if membership.dims != ("region", "country") or "country" not in da.dims:
        return xr.dot(membership, da, dim="country", optimize=True)
    axis = da.dims.index("country")
    lead, rest = da.dims[:axis], da.dims[axis + 1:]
    vals = np.asarray(da.values)
    shape = vals.shape
    flat = vals.reshape(shape[:axis] + (shape[axis], int(np.prod(shape[axis + 1:], dtype=int))))
    out = np.matmul(np.asarray(membership.values, dtype=vals.dtype), flat)
    out = out.reshape(shape[:axis] + (membership.sizes["region"],) + shape[axis + 1:])
    coords = {d: da.coords[d] for d in (*lead, *rest) if d in da.coords}
    if "region" in membership.coords:
        coords["region"] = membership.coords["region"]
    return xr.DataArray(out, dims=(*lead, "region", *rest), coords=coords)
