"""The ``urbanmine`` command line: thin click commands over the library.

Each command parses its options, calls the library and writes files. Library errors
(:class:`~urbanmine.errors.UrbanmineError`) become a one-line ``Error: ...`` on stderr and exit
code 1; usage errors are click's (exit code 2). Heavy modules are imported inside the commands
so that start-up stays fast.
"""

from __future__ import annotations

import functools
import sys

import click

from . import __version__
from .errors import UrbanmineError

# -- shared options (defined once, meaning the same in every command) ------------------------

overwrite_opt = click.option(
    "--overwrite", is_flag=True, help="Replace output files that already exist."
)
inflow_at_opt = click.option(
    "--inflow-at",
    type=click.Choice(["start", "middle", "end"]),
    default="middle",
    show_default=True,
    help="Where within its year a cohort enters the stock; 'end' reproduces ODYM.",
)


def _reports_errors(func):
    """Turn UrbanmineError into a one-line message and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UrbanmineError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="urbanmine")
def main():
    """Estimate rare earths (Nd, Pr, Dy, Tb) in end-of-life products by region and year."""


@main.command()
@click.option(
    "--inflow", "inflow_path", required=True, metavar="FILE.csv",
    help="Inflow per year: CSV with columns year,value (consecutive years, values >= 0).",
)
@click.option(
    "--lifetime", "lifetime_spec", required=True, metavar="SPEC",
    help="Lifetime, e.g. weibull:shape=2.5,scale=15, lognormal:mean=10,std=3, "
    "normal:mean=10,std=3, foldednormal:mean=10,std=3, fixed:lifetime=12, "
    "empirical:file=survival.csv (columns age,survival).",
)
@click.option(
    "--storage", "storage_spec", metavar="SPEC", default=None,
    help="Optional storage delay after use (same forms as --lifetime); the stock then "
    "includes products in storage and the outflow is disposal.",
)
@inflow_at_opt
@click.option(
    "--quadrature-points", "n_pts", type=click.IntRange(1, 10), default=1, show_default=True,
    help="Gauss-Lobatto points averaging survival over the inflow year (1 = off; use 5 for "
    "lifetimes of a year or two). Overrides --inflow-at when above 1.",
)
@click.option(
    "--initial-stock", "initial_path", metavar="FILE.csv", default=None,
    help="Stock by age at the end of the year before the first inflow year: CSV with columns "
    "age,value (age 0 = entered in that year).",
)
@click.option(
    "--out", "out_path", required=True, metavar="FILE.csv",
    help="Output CSV with columns year,inflow,stock,outflow; '-' writes to standard output.",
)
@click.option(
    "--by-cohort", "cohort_path", metavar="FILE.csv", default=None,
    help="Also write the cohort table (columns cohort,year,stock,outflow) to this file.",
)
@overwrite_opt
@_reports_errors
def stock(
    inflow_path, lifetime_spec, storage_spec, inflow_at, n_pts, initial_path, out_path,
    cohort_path, overwrite,
):
    """Inflow-driven stock and outflow of one product from a yearly inflow series.

    Stocks are at the end of each year, flows per year, in the unit of the inflow. Example:

    \b
        urbanmine stock --inflow examples/ev_sales_eu27.csv \\
            --lifetime weibull:shape=2.01,scale=16.07 --out -
    """
    from .io import atomic_write, check_writable, format_float, read_series_csv
    from .lifetimes import parse_lifetime
    from .stocks import inflow_driven

    if cohort_path is not None and cohort_path == out_path:
        raise click.UsageError("--by-cohort must name a different file than --out")
    if cohort_path == "-":
        raise click.UsageError("--by-cohort needs a file name ('-' is only for --out)")
    check_writable(out_path, overwrite)
    if cohort_path is not None:
        check_writable(cohort_path, overwrite)

    years, inflow = read_series_csv(inflow_path, "year", "value")
    lifetime = parse_lifetime(lifetime_spec, what="--lifetime")
    if storage_spec:
        lifetime = lifetime.then(parse_lifetime(storage_spec, what="--storage"))
    initial = None
    if initial_path is not None:
        ages, initial = read_series_csv(initial_path, "age", "value")
        if ages[0] != 0:
            from .errors import InputDataError

            raise InputDataError(
                f"{initial_path}: ages start at {ages[0]}, expected 0 (the youngest cohort)"
            )
    result = inflow_driven(
        inflow, lifetime, inflow_at, n_pts_per_interval=n_pts, initial_stock=initial
    )

    if cohort_path is not None:
        cohorts = years[0] + result.cohort_offsets
        sbc, obc = result.stock_by_cohort, result.outflow_by_cohort
        with atomic_write(cohort_path, overwrite) as fh:
            fh.write("cohort,year,stock,outflow\n")
            for i, c in enumerate(cohorts):
                first = max(int(c - years[0]), 0)
                for j in range(first, years.size):
                    fh.write(
                        f"{c},{years[j]},{format_float(sbc[i, j])},{format_float(obc[i, j])}\n"
                    )
    with atomic_write(out_path, overwrite) as fh:
        fh.write("year,inflow,stock,outflow\n")
        for y, i, s, o in zip(years, result.inflow, result.stock, result.outflow):
            fh.write(f"{y},{format_float(i)},{format_float(s)},{format_float(o)}\n")
    if out_path != "-":
        click.echo(f"wrote {out_path} ({years.size} years, {years[0]}-{years[-1]})", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
