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
import numpy as np

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


profiles_opt = click.option(
    "--profiles", "profiles_dir", metavar="DIR", default=None,
    help="Directory of product profiles (default: the shipped product_profiles/).",
)
data_opt = click.option(
    "--data", "data_dir", metavar="DIR", default=None,
    help="Directory of regional data (default: the shipped data/).",
)


regions_opt = click.option(
    "--regions", "regions_file", metavar="FILE.csv", default=None,
    help="Your own groupings of countries: a CSV with exactly the columns region,member (one row "
    "per member; a member is a country code or another region).",
)


model_opt = click.option(
    "--model", "model_path", metavar="FILE.json", default=None,
    help="Collection-rate model (default: the shipped models/collection_rate.json).",
)


@main.command()
@click.option("--region", "regions", multiple=True, metavar="CODE",
              help="A country (ISO 3166-1 alpha-3, e.g. DEU, GBR, BRA) or a region (EU27, G7, EFTA, "
              "AFRICA, ASIA, EUROPE, AMERICAS, ..., WORLD, or one of --regions), case-insensitive; "
              "repeatable. 'all' (default): CHN, EU27, USA, JPN, KOR, IND, ROW and WORLD; 'countries': "
              "every country. 'urbanmine regions' lists them.")
@regions_opt
@click.option("--from", "year_from", type=int, default=None,
              help="First year written to the output (default: the first data year, 1990); the model always "
              "runs from the first data year, so stocks are complete.")
@click.option("--to", "year_to", type=int, default=None,
              help="Last year written to the output (default: the last data year, 2060).")
@click.option("--product", "products", multiple=True, metavar="NAME",
              help="Product (repeatable): smartphone, ev_traction_motor, wind_turbine with the shipped profiles "
              "('urbanmine profiles list'). Default: all, plus their sum 'all'.")
@click.option("--element", "elements", multiple=True, metavar="SYMBOL",
              help="Nd, Pr, Dy, Tb or REE (their sum), repeatable. Default: all five.")
@click.option("--scenario", "scenario_names", multiple=True, metavar="NAME|FILE",
              help="Policy scenario, a shipped name (current-practice, announced-policies, "
              "technical-potential) or a scenario file; repeatable: later ones are also written as "
              "differences from the first. Default: current-practice.")
@click.option("--demand", default=None, metavar="PATH",
              help="Demand path of the sales data for every scenario (stated, accelerated); "
              "default: each scenario's own.")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True,
              help="Monte Carlo samples; adds mean,p05,p50,p95 columns.")
@click.option("--seed", type=int, default=None, help="Seed of the Monte Carlo draws (same seed, same file).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Samples processed at once (memory; results do not depend on it).")
@click.option("--max-memory", type=click.FloatRange(min=0.01), default=2.0, show_default=True, metavar="GB",
              help="Memory for the Monte Carlo samples held at once [GiB]: regions are run in blocks that fit "
              "it (percentiles stay exact; other values agree to rounding, the same value gives the same bytes). "
              "The process needs about 0.5-0.8 GB more.")
@click.option("--scheduler", default=None, metavar="local[:N]|tcp://HOST:PORT",
              help="Run the blocks of regions on Dask: 'local' or 'local:N' starts a LocalCluster with N worker "
              "processes, tcp://HOST:PORT uses a running scheduler (needs pip install 'urbanmine[dask]'). "
              "Same output, byte for byte.")
@inflow_at_opt
@profiles_opt
@data_opt
@model_opt
@click.option("--out", "out_path", required=True, metavar="FILE", help="Output file; '-' streams CSV to standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "iamc"]), default="csv", show_default=True,
              help="csv: the tidy table; parquet: the same as Parquet (pyarrow); iamc: the IAMC long "
              "layout (model,scenario,region,variable,unit,year,value; variables like "
              "Recovered|REE|Wind Turbine, statistics as |Mean, |p05, |p50, |p95) read by "
              "pyam.IamDataFrame.")
@overwrite_opt
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--report", "report_dir", metavar="DIR", default=None,
              help="Also write the figures and report.html to DIR (as 'urbanmine report').")
@click.option("--report-year", type=int, default=2040, show_default=True, help="Cascade year of --report.")
@_reports_errors
def estimate(regions, regions_file, year_from, year_to, products, elements, scenario_names, demand, samples, seed,
             chunk_size, max_memory, scheduler, inflow_at, profiles_dir, data_dir, model_path, out_path, fmt, overwrite, quiet,
             report_dir, report_year):
    """Rare earths in sales, stock, end of life, collection and recovery by scenario, region and year.

    Writes a tidy table (scenario,region,product,element,stage,unit,year,value[,mean,p05,p50,p95])
    and FILE.meta.json beside it, then prints recovered tonnes for milestone years. --from and
    --to select the years written; the model always runs from the first data year (1990).
    """
    import time

    from . import report_summary
    from .estimate import DEFAULT_SCENARIO, load_inputs
    from .estimate import estimate as run
    from .io import check_writable, write_estimate

    if fmt == "parquet" and out_path == "-":
        raise click.UsageError("--out - streams CSV only; give a file name for parquet")
    if report_dir is not None and (out_path == "-" or fmt != "csv"):
        raise click.UsageError("--report needs --out FILE.csv (a CSV file in the tidy layout, --format csv)")
    if samples and seed is None:
        seed = 0
    check_writable(out_path, overwrite)
    if out_path != "-":
        check_writable(out_path + ".meta.json", overwrite)
    region_list = list(regions)
    inputs = load_inputs(profiles_dir, data_dir, model_path, regions_file)
    data_years = inputs.inflows["year"]
    y0 = int(data_years.min()) if year_from is None else year_from
    y1 = int(data_years.max()) if year_to is None else year_to
    names = list(scenario_names) or [DEFAULT_SCENARIO]
    resolved = []
    show = samples and not quiet and sys.stderr.isatty()
    started = time.perf_counter()
    if scheduler is not None:
        from .scale import parse_scheduler

        parse_scheduler(scheduler)
    kwargs = dict(inflow_at=inflow_at, chunk_size=chunk_size, inputs=inputs, demand=demand,
                  scenarios_out=resolved, max_memory=int(max_memory * (1 << 30)), scheduler=scheduler)
    args = (region_list, (y0, y1), list(products), list(elements), names, samples, seed)
    if show:
        with click.progressbar(length=samples, label="Monte Carlo", file=sys.stderr) as bar:
            df = run(*args, progress=bar.update, **kwargs)
    else:
        df = run(*args, **kwargs)
    elapsed = time.perf_counter() - started
    write_estimate(df, out_path, fmt, overwrite, inputs=inputs, seed=seed, samples=samples,
                   scenarios=resolved, inflow_at=inflow_at, argv=sys.argv)
    if not quiet:
        click.echo(report_summary.summary_text(df), err=True)
        if out_path != "-":
            click.echo(f"wrote {out_path} ({len(df)} rows) and {out_path}.meta.json in {elapsed:.2f} s", err=True)
    if report_dir is not None:
        from .report import make_report

        for p in make_report(out_path, report_dir, report_year, overwrite, profiles_dir):
            if not quiet:
                click.echo(f"wrote {p}", err=True)


@main.command()
@click.option("--region", required=True, metavar="CODE", help="A country or region (as for estimate).")
@click.option("--year", type=int, required=True, help="Calendar year of the output.")
@click.option("--element", default="REE", show_default=True, metavar="SYMBOL", help="Nd, Pr, Dy, Tb or REE.")
@click.option("--stage", default="recovered", show_default=True, metavar="STAGE",
              help="sales, in_use_stock, net_export, end_of_life, collected, liberated, recovered or secondary_share.")
@click.option("--product", default="all", show_default=True, metavar="NAME",
              help="A product, or all (their sum).")
@click.option("--scenario", "scenario_name", default="current-practice", show_default=True, metavar="NAME|FILE",
              help="One scenario (current-practice, announced-policies, technical-potential, or a file): its "
              "levers are fixed; only their ranges are uncertain.")
@click.option("--demand", default=None, metavar="PATH", help="Demand path (stated, accelerated); default: the scenario's.")
@click.option("--samples", "base_samples", type=int, default=None, metavar="N",
              help="Base samples N, a power of 2: N x (groups + 2) model runs. Default 2048, where the 95 % intervals of the indices are below ±0.05 (see the README).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the design and the bootstrap.")
@click.option("--out", "out_path", default=None, metavar="FILE.csv", help="Also write the indices as CSV.")
@click.option("--figure", "figure_path", default=None, metavar="FILE.png", help="Also write a tornado chart (200 dpi).")
@profiles_opt
@data_opt
@model_opt
@overwrite_opt
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no table.")
@_reports_errors
def sensitivity(region, year, element, stage, product, scenario_name, demand, base_samples, seed, out_path,
                figure_path, profiles_dir, data_dir, model_path, overwrite, quiet):
    """Which uncertain inputs drive one result: Sobol indices by group of inputs.

    First-order (S1) and total (ST) variance-based indices with 95 % bootstrap intervals for one
    output cell (region, year, element, stage, product, scenario), inputs grouped as a reader
    recognises them (e.g. "Wind turbine: lifetime", "Collection model", "Scenario lever:
    liberation achieved"). Prints the ranked table; --out writes it as CSV, --figure as a tornado chart.
    """
    from .estimate import load_inputs
    from .io import atomic_write_all, check_writable, write_csv
    from .sensitivity import DEFAULT_BASE_SAMPLES, describe, plot_tornado, result_table
    from .sensitivity import sensitivity as analyse

    paths = [p for p in (out_path, figure_path) if p]
    for p in paths:
        check_writable(p, overwrite)
    inputs = load_inputs(profiles_dir, data_dir, model_path)
    kw = dict(element=element, stage=stage, product=product, scenario=scenario_name, base_samples=base_samples,
              seed=seed, inputs=inputs, demand=demand)
    if not quiet and sys.stderr.isatty():
        from .sensitivity import input_groups

        n = base_samples or DEFAULT_BASE_SAMPLES
        prods = sorted(inputs.profiles) if product == "all" else [product]
        g = len(input_groups(inputs, prods, inputs.scenario(scenario_name, demand)))
        with click.progressbar(length=n * (g + 2), label="Sobol design", file=sys.stderr) as bar:
            result = analyse(region, year, progress=bar.update, **kw)
    else:
        result = analyse(region, year, **kw)
    if paths:
        modes = (["w"] if out_path else []) + (["wb"] if figure_path else [])
        with atomic_write_all(paths, overwrite, modes) as handles:
            handles = list(handles)
            if out_path:
                write_csv(result_table(result), handles.pop(0))
            if figure_path:
                plot_tornado(result, handles.pop(0))
    if not quiet:
        click.echo(describe(result))
        for p in paths:
            click.echo(f"wrote {p}", err=True)


@main.command()
@click.argument("estimate_csv", metavar="ESTIMATE.csv")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Directory for the PNG figures and report.html.")
@click.option("--year", type=int, default=2040, show_default=True, help="Year of the stage cascade.")
@click.option("--sensitivity", "sensitivity_csv", default=None, metavar="FILE.csv",
              help="Also draw a sensitivity analysis (the CSV of 'urbanmine sensitivity --out').")
@profiles_opt
@overwrite_opt
@_reports_errors
def report(estimate_csv, out_dir, year, sensitivity_csv, profiles_dir, overwrite):
    """Figures (200 dpi, each with a source line) and a self-contained report.html from an
    estimate CSV (and its .meta.json)."""
    from .report import make_report

    written = make_report(estimate_csv, out_dir, year, overwrite, profiles_dir, sensitivity_csv)
    for p in written:
        click.echo(f"wrote {p}", err=True)


@main.group()
def profiles():
    """Product composition profiles: list, show, validate."""


@profiles.command("list")
@profiles_opt
@_reports_errors
def profiles_list(profiles_dir):
    """The products, their units and a one-line description."""
    from .profiles import load_profiles

    profs = load_profiles(profiles_dir)
    width = max(len(p) for p in profs)
    uwidth = max(len(p.unit) for p in profs.values())
    for name, p in profs.items():
        click.echo(f"{name:<{width}}  {p.unit:<{uwidth}}  {p.description}")


@profiles.command("show")
@click.argument("name")
@click.option("--year", type=int, default=2025, show_default=True, help="Cohort (sales) year.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--region", default="WORLD", show_default=True,
    help="Country or region shown: its countries' own technology mixes (regional variants), weighted by "
    "their inflows of that year, which also weight the segments (products with several segments).",
)
@click.option("--demand", "scenario", default="stated", show_default=True,
              help="Demand path (stated, accelerated) for the segment weights.")
@profiles_opt
@data_opt
@_reports_errors
def profiles_show(name, year, as_json, region, scenario, profiles_dir, data_dir):
    """Technology shares and content per unit of product NAME for one cohort year.

    With several segments (BEV/PHEV, onshore/offshore), a technology's share is its share within
    its segment times the segment's share of the region's inflow in that year.
    """
    import json

    from .errors import InputDataError
    from .profiles import load_profiles

    profs = load_profiles(profiles_dir)
    if name not in profs:
        raise InputDataError(f"unknown product {name!r}; expected one of {', '.join(profs)}")
    prof = profs[name]
    from .regions import load_regions

    regs = load_regions(data_dir)
    region = regs.resolve(region, "--region")
    prof.check_regions(regs)
    weights, mix = _segment_weights(prof, year, region, scenario, data_dir)
    info = prof.summary(year, weights if len(prof.segments) > 1 else None, technology_shares=mix)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{prof.name} ({name}), unit: {prof.unit}, cohort year {year}")
    if len(prof.segments) > 1:
        click.echo("segment weights ({} {} inflow): {}".format(
            region, scenario, ", ".join(f"{k} {v:.3f}" for k, v in weights.items())))
    els = prof.elements
    header = f"{'technology':<20} {'share':>7}  " + "  ".join(f"{e + ' [kg/unit]':>14}" for e in els)
    click.echo(header)
    for tech, row in info["technologies"].items():
        vals = "  ".join(f"{row['content_kg_per_unit'][e]:>14.6g}" for e in els)
        click.echo(f"{tech:<20} {row['share']:>7.4f}  {vals}")
    avg = info["average_content_kg_per_unit"]
    click.echo(f"{'average':<20} {1.0:>7.4f}  " + "  ".join(f"{avg[e]:>14.6g}" for e in els))


def _segment_weights(prof, year, region, scenario, data_dir):
    """The segments' shares of ``region``'s inflow in ``year``, and the technology shares within
    segments ``[technology]``: the mix of each country's own (regional) shares, weighted by its
    inflow of the segment (the default mix where the region has no inflow)."""
    from .errors import InputDataError
    from .inflows import country_inflows, load_inflows, load_split_keys
    from .profiles import variant_index
    from .regions import load_regions

    regs = load_regions(data_dir)
    code = regs.resolve(region, "--region")
    inflows = load_inflows(data_dir, regs)
    if scenario not in set(inflows["demand"]):
        raise InputDataError(
            f"--demand {scenario!r}: unknown demand path; expected one of "
            f"{', '.join(sorted(inflows['demand'].unique()))}"
        )
    arr, years = country_inflows(inflows, load_split_keys(data_dir, regs), regs, scenario, prof.product,
                                 list(prof.segments))
    y = min(max(year, int(years.min())), int(years.max()))
    member = regs.membership([code])[0]  # [country]
    flow = arr[:, :, years == y][:, :, 0] * member[:, None]  # [country, segment]
    by_seg = flow.sum(axis=0)
    total = float(by_seg.sum())
    weights = ({s: 1.0 / len(prof.segments) for s in prof.segments} if total <= 0
               else {s: float(v) / total for s, v in zip(prof.segments, by_seg)})
    mix = []
    for j, seg in enumerate(prof.segments.values()):
        codes = list(seg.regional)
        default = seg.share_values([year])[:, 0]
        if not codes or by_seg[j] <= 0:
            own = seg.share_values([year], variant=prof.variant(code, codes, regs))[:, 0]
            mix.append(own if by_seg[j] <= 0 else default)
            continue
        variants = variant_index(codes, regs, regs.countries)
        table = np.stack([seg.share_values([year], variant=c)[:, 0] for c in [*codes, None]])  # [V, K]
        mix.append(flow[:, j] @ table[variants] / by_seg[j])
    return weights, np.concatenate(mix)


@profiles.command("validate")
@click.argument("directory", required=False, metavar="[DIR]")
@data_opt
@_reports_errors
def profiles_validate(directory, data_dir):
    """Check every profile in DIR (default: the shipped profiles); list every problem.

    Regional variants (by_region) are checked against the countries and regions of --data."""
    from .profiles import validate_directory
    from .regions import load_regions

    files, problems = validate_directory(directory, load_regions(data_dir))
    _validation_result(files, problems, "profile")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _validation_result(files, problems, kind: str) -> None:
    """Print every problem and exit 1, or say which files are valid (the validate commands)."""
    for p in problems:
        click.echo(p, err=True)
    if problems:
        click.echo(f"{_plural(len(problems), 'problem')} in {_plural(len(files), 'file')}", err=True)
        sys.exit(1)
    click.echo(f"{_plural(len(files), kind)} valid: {', '.join(str(f) for f in files)}")


@main.command()
@click.option(
    "--observations", "obs_path", metavar="FILE.csv", default=None,
    help="Observed collection rates (default: collection_observations.csv of --data).",
)
@data_opt
@click.option(
    "--out", "out_path", metavar="FILE.json", default="collection_rate.json", show_default=True,
    help="Where to write the fitted model; a model card FILE.md is written beside it.",
)
@click.option("--tau", type=float, default=None, help="Fix the policy time constant [yr] instead of choosing it by CV.")
@overwrite_opt
@_reports_errors
def calibrate(obs_path, data_dir, out_path, tau, overwrite):
    """Fit the collection-rate regression and write it as JSON (plus a model card).

    Prints the coefficients with cluster-robust standard errors and the cross-validation scores.
    """
    from pathlib import Path

    from .collection import FEATURES, fit, model_card
    from .io import atomic_write, check_writable
    from .regions import load_regions

    card = str(Path(out_path).with_suffix(".md"))
    check_writable(out_path, overwrite)
    check_writable(card, overwrite)
    model = fit(obs_path, data_dir, tau=tau)
    d = model.to_dict()
    se = np.sqrt(np.diag(model.covariance))
    click.echo(f"fractional logit, tau = {model.tau:g} yr, {d['training_data']['n_used']} observations "
               f"from {d['training_data']['n_regions']} regions")
    click.echo(f"{'feature':<20} {'coefficient':>12} {'std. error':>11}")
    for f, c, s in zip(FEATURES, model.coefficients, se):
        click.echo(f"{f:<20} {c:>12.4f} {s:>11.4f}")
    click.echo(f"country effect sd (logit): {model.region_effect_sd:.3f}; {len(model.country_effects)} observed "
               "countries keep their own (partially pooled) effect")
    cv = d["cross_validation"]
    click.echo(f"in sample: MAE {d['fit']['in_sample']['mae_pp']:.2f} pp, R2 {d['fit']['in_sample']['r2']:.3f}")
    click.echo(f"{cv['kfold']['k']}-fold CV: MAE {cv['kfold']['mae_pp']:.2f} pp, R2 {cv['kfold']['r2']:.3f}")
    for name in ("leave_one_country_out", "leave_one_continent_out"):
        click.echo(f"{name.replace('_', ' ')}: MAE {cv[name]['mae_pp']:.2f} pp, R2 {cv[name]['r2']:.3f}")
    try:  # the card projects the regions '--region all' reports, where the data define them
        card_regions = [r for r in load_regions(data_dir).default if r != "WORLD"]
    except UrbanmineError:
        card_regions = []
    text = model_card(model, card_regions, data_dir)
    model.save(out_path, overwrite)
    with atomic_write(card, overwrite) as fh:
        fh.write(text)
    click.echo(f"wrote {out_path} and {card} (model id {model.id})", err=True)


@main.command()
@click.option("--countries", "show_countries", is_flag=True, help="List every country instead of the regions.")
@regions_opt
@data_opt
@_reports_errors
def regions(show_countries, regions_file, data_dir):
    """The regions (groupings of countries) or, with --countries, the countries.

    Countries are the base unit (ISO 3166-1 alpha-3 codes); every region is a grouping of them,
    and WORLD is every country. --region in 'estimate' takes any of these codes.
    """
    from .regions import WORLD, load_regions

    regs = load_regions(data_dir, regions_file)
    if show_countries:
        for c in regs.countries:
            click.echo(f"{c}  {regs.names.get(c, c)}")
        return
    codes = [*regs.groups, WORLD]
    w = max(len(c) for c in codes)
    for g in codes:
        n = len(regs.members(g))
        click.echo(f"{g:<{w}}  {regs.names.get(g, g)} ({n} countr{'y' if n == 1 else 'ies'}): "
                   f"{regs.definitions.get(g, '')}")
    click.echo(f"\n{len(regs.countries)} countries: 'urbanmine regions --countries' lists them; "
               "CHN, USA, JPN, KOR and IND are countries.", err=True)


@main.group(invoke_without_command=True)
@click.pass_context
def scenarios(ctx):
    """Policy scenarios: list (default), show NAME, validate [PATH ...]."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(scenarios_list)


@scenarios.command("list")
@_reports_errors
def scenarios_list():
    """The shipped scenarios and their descriptions."""
    from .scenarios import list_scenarios, load_scenario

    paths = list_scenarios()
    w = max(len(p.stem) for p in paths)
    for p in paths:
        sc = load_scenario(p)
        click.echo(f"{sc.name:<{w}}  {sc.description}")
    click.echo("\n(demand paths of the sales data, chosen by a scenario's 'demand' or --demand: "
               "stated, accelerated; see data/demand_paths.csv)", err=True)


@scenarios.command("show")
@click.argument("name", metavar="NAME|FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@profiles_opt
@data_opt
@_reports_errors
def scenarios_show(name, as_json, profiles_dir, data_dir):
    """The resolved levers of scenario NAME (its base's first; later ones override)."""
    import json

    from .estimate import load_inputs

    inputs = load_inputs(profiles_dir, data_dir)
    sc = inputs.scenario(name)
    levers = sc.describe()
    if as_json:
        click.echo(json.dumps({"name": sc.name, "description": sc.description, "demand": sc.demand,
                               "chain": sc.chain, "levers": levers}, indent=2))
        return
    click.echo(f"{sc.name}: {sc.description}")
    click.echo(f"base chain: {' -> '.join(sc.chain)}; demand path: {sc.demand}")
    effective = {id(lv) for lv in sc.effective_levers()}
    for lv, d in zip(sc.levers, levers):
        tech = f" {d['from']} -> {d['to']}" if "from" in d else ""
        path = ", ".join(f"{y}: {v:g}" for y, v in zip(d["year"], d["value"])) if len(d["year"]) > 1 else f"{d['value'][0]:g}"
        rng = ""
        if "low" in d:
            rng = " (range " + ", ".join(f"{lo:g}-{hi:g}" for lo, hi in zip(d["low"], d["high"])) + ")"
        since = f", from {d['from_year']}" if "from_year" in d else ""
        over = "" if id(lv) in effective else "  [overridden]"
        click.echo(f"  {d['parameter']:<16} {d['product']:<18} {d['region']:<5}{tech} {path}{rng}{since}"
                   f"  [{d.get('status', '-')}; {', '.join(d.get('source', [])) or 'assumption'}]{over}")


@scenarios.command("validate")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@profiles_opt
@data_opt
def scenarios_validate(paths, profiles_dir, data_dir):
    """Check scenario files (default: the shipped ones); list every problem; exit 1 if any."""
    from pathlib import Path

    from .inflows import load_demand_paths
    from .profiles import load_profiles, load_references
    from .regions import load_regions
    from .scenarios import list_scenarios, validate_scenarios

    try:
        profs = load_profiles(profiles_dir)
        refs = set(load_references(profiles_dir))
        demand = list(load_demand_paths(data_dir)["demand"])
        regs = load_regions(data_dir)
    except UrbanmineError as exc:
        raise click.ClickException(str(exc)) from None
    files = []
    for p in paths or [str(x) for x in list_scenarios()]:
        q = Path(p)
        files.extend(sorted(q.glob("*.toml")) if q.is_dir() else [q])
    problems = validate_scenarios(files, profiles=profs, regions=regs, demand_paths=demand,
                                  references=refs)
    _validation_result(files, problems, "scenario")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
