"""Which uncertain inputs drive a result: variance-based (Sobol) sensitivity indices.

One output cell of an estimate (a region, year, element, stage, product and scenario) is a
function of every uncertain input of the run: the profiles' numbers with a low/high range, the
collection model's coefficients and country effects, and the achieved level of each scenario
lever with a range. The inputs are grouped so that a reader recognises them ("Wind turbine:
lifetime", "EV traction motor: magnet mass", "Collection model", "Scenario lever: liberation",
...), and for every group this module estimates

- the first-order index S1: the share of the output's variance explained by the group alone;
- the total index ST: the share that involves the group at all (alone or through interactions);

with bootstrap confidence intervals. The design and the estimators are SALib's (Herman & Usher
2017; Iwanaga et al. 2022): a scrambled Sobol' sequence in Saltelli's scheme, N x (G + 2)
model runs for G groups, first-order and total effects by the Saltelli (2010) and Jansen (1999)
estimators. Every input is a uniform on [0, 1] mapped to its distribution exactly as in a Monte
Carlo estimate (:mod:`urbanmine.estimate`), so the indices describe the same uncertainty as the
estimate's p05-p95 ranges. Scenario choices are never inputs: each scenario is analysed on its
own.

References
----------
Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Computer
Physics Communications 181, 259-270.
Jansen, M. J. W. (1999). Analysis of variance designs for model output. Computer Physics
Communications 117, 35-43.
Herman, J., Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputDataError

__all__ = ["DEFAULT_BASE_SAMPLES", "SensitivityResult", "sensitivity", "input_groups"]

DEFAULT_BASE_SAMPLES = 2048
"""Base samples N of the default design (N x (G + 2) model runs); see the convergence study in
``bench/RESULTS.md``."""

LEVER_LABELS = {
    "collection": "collection rate achieved", "liberation": "liberation achieved",
    "process_yield": "process yield achieved", "lifetime_factor": "lifetime factor achieved",
    "technology_shift": "technology shift achieved",
}
KIND_LABELS = {"lifetime": "lifetime", "magnet mass": "magnet mass", "composition": "magnet composition",
               "technology mix": "technology mix"}


def input_groups(inputs, products, scenario) -> list[tuple[str, list[int]]]:
    """The groups of a run's uncertain inputs: ``(label, columns of draw_layout)``.

    Profile numbers are grouped by product and kind; the collection model's draws form one group
    (all products; only for products whose collection comes from the fitted model); each scenario
    lever with a range forms one group across products. Groups without any effect on the run
    (a lever the scenario gives no range, a model the scenario overrides everywhere) are left out.
    """
    from .estimate import draw_layout

    layout = draw_layout(inputs, products)
    groups: dict[str, list[int]] = {}
    ranged = {lv.parameter for lv in scenario.effective_levers() if lv.has_range}
    for product, kind, name, col in layout:
        if kind == "lever":
            if name in ranged:
                groups.setdefault(f"Scenario lever: {LEVER_LABELS[name]}", []).append(col)
            continue
        if kind == "collection model":
            if inputs.profiles[product].collection_category is not None:
                groups.setdefault("Collection model (fitted rates)", []).append(col)
            continue
        label = f"{inputs.profiles[product].name}: {KIND_LABELS[kind]}"
        groups.setdefault(label, []).append(col)
    return list(groups.items())


@dataclass
class SensitivityResult:
    """Sobol indices of one output cell, by group of inputs (see :func:`sensitivity`)."""

    table: object  # pandas DataFrame: group, inputs, S1, S1_conf, ST, ST_conf (ranked by ST)
    cell: dict  # region, year, element, stage, product, scenario, unit
    base_samples: int
    model_runs: int
    output: dict = field(default_factory=dict)  # mean, p05, p50, p95 of the output [unit]


def sensitivity(region: str, year: int, *, element: str = "REE", stage: str = "recovered",
                product: str = "all", scenario: str = "current-practice", base_samples: int | None = None,
                seed: int = 0, inputs=None, demand=None, chunk_size: int = 1000, progress=None,
                num_resamples: int = 200) -> SensitivityResult:
    """First-order and total Sobol indices of one output cell, by group of inputs.

    Parameters
    ----------
    region : str
        A country or region (as ``estimate``'s ``regions``).
    year : int
        Calendar year of the output.
    element, stage, product : str
        The output cell: an element (or ``REE``), a flow stage or ``secondary_share`` or
        ``in_use_stock``, a product or ``all`` (their sum).
    scenario : str
        One scenario (a shipped name or a file): its levers are fixed choices, their ranges
        uncertainties.
    base_samples : int, optional
        N, a power of 2; the design has N x (G + 2) model runs for G groups. Default
        :data:`DEFAULT_BASE_SAMPLES`.
    seed : int
        Seed of the scrambled Sobol' sequence and of the bootstrap (same seed, same indices).

    Returns
    -------
    SensitivityResult
        ``table`` ranked by total index, with 95 % bootstrap confidence half-widths
        (``S1_conf``, ``ST_conf``); ``output`` the mean and percentiles of the output over the
        design's first N runs (a plain Monte Carlo sample of the inputs).
    """
    import pandas as pd
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    from .estimate import STAGE_UNITS, STAGES, TOTAL_ELEMENT, TOTAL_PRODUCT, load_inputs, resolve_regions, split_draws
    from .estimate import run as run_model

    inputs = inputs or load_inputs()
    n = DEFAULT_BASE_SAMPLES if base_samples is None else int(base_samples)
    if n < 2 or n & (n - 1):
        raise InputDataError(f"samples = {base_samples!r}, expected a power of 2 (e.g. 512, 1024, 2048): the "
                             "Sobol' sequence is balanced only at powers of 2")
    if stage not in STAGES:
        raise InputDataError(f"stage = {stage!r}, expected one of {', '.join(STAGES)}")
    elements = ["Nd", "Pr", "Dy", "Tb", TOTAL_ELEMENT]
    if element not in elements:
        raise InputDataError(f"element = {element!r}, expected one of {', '.join(elements)}")
    products = sorted(inputs.profiles)
    if product != TOTAL_PRODUCT and product not in products:
        raise InputDataError(f"product = {product!r}, expected {TOTAL_PRODUCT} or one of {', '.join(products)}")
    run_products = products if product == TOTAL_PRODUCT else [product]
    regions = resolve_regions(inputs.regions, [region])
    years = inputs.inflows["year"]
    if not int(years.min()) <= year <= int(years.max()):
        raise InputDataError(f"year = {year}, expected a year within {int(years.min())}-{int(years.max())}")
    scen = inputs.scenario(scenario, demand)
    groups = input_groups(inputs, run_products, scen)
    if not groups:
        raise InputDataError("no uncertain input: nothing to analyse")
    from .estimate import draw_layout

    n_cols = len(draw_layout(inputs, run_products))
    names, group_of = [], []
    for label, cols in groups:
        for c in cols:
            names.append(f"x{c}")
            group_of.append(label)
    used = [c for _, cols in groups for c in cols]
    problem = {"num_vars": len(used), "names": names, "bounds": [[0.0, 1.0]] * len(used), "groups": group_of}
    design = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)  # [runs, used]
    # inputs outside every group have no effect: they stay at their median draw (0.5)
    uniforms = np.full((design.shape[0], n_cols), 0.5)
    uniforms[:, used] = design
    y = np.empty(design.shape[0])
    pi = -1 if product == TOTAL_PRODUCT else 0
    si = STAGES.index(stage)
    for start in range(0, design.shape[0], chunk_size):
        stop = min(start + chunk_size, design.shape[0])
        res = run_model(inputs, [scen], run_products, regions, [element], [year], inflow_at="middle",
                        chunk_size=chunk_size, check=False,
                        draws=split_draws(inputs, run_products, uniforms[start:stop]), keep_samples=True)
        y[start:stop] = res["samples"][0, pi, 0, 0, si, 0, :]
        if progress is not None:
            progress(stop - start)
    if not np.all(np.isfinite(y)):
        raise InputDataError(f"{stage} of {region} in {year} has no value in some samples (e.g. a secondary "
                             "share without sales): choose another stage or year")
    if np.var(y) == 0:
        table = pd.DataFrame({"group": [g for g, _ in groups], "inputs": [len(c) for _, c in groups],
                              "S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0})
    else:
        si_ = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples,
                                    conf_level=0.95, seed=seed)
        labels = list(dict.fromkeys(group_of))
        table = pd.DataFrame({"group": labels, "inputs": [len(dict(groups)[g]) for g in labels],
                              "S1": si_["S1"], "S1_conf": si_["S1_conf"], "ST": si_["ST"], "ST_conf": si_["ST_conf"]})
    table = table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    # the design holds, for every base sample, the rows A, AB_1..AB_G and B: the A rows are a
    # plain sample of the inputs
    base = y[:: len(groups) + 2]
    return SensitivityResult(
        table=table,
        cell={"region": regions[0], "year": int(year), "element": element, "stage": stage, "product": product,
              "scenario": scen.name, "unit": STAGE_UNITS[stage]},
        base_samples=n, model_runs=int(design.shape[0]),
        output={"mean": float(base.mean()), "p05": float(np.percentile(base, 5)),
                "p50": float(np.percentile(base, 50)), "p95": float(np.percentile(base, 95))},
    )


RESULT_COLUMNS = ("region", "year", "element", "stage", "product", "scenario", "unit", "group", "inputs", "S1",
                  "S1_conf", "ST", "ST_conf", "base_samples", "model_runs", "output_mean", "output_p05",
                  "output_p50", "output_p95")


def result_table(result: SensitivityResult):
    """The result as a tidy table: one row per group with the output cell's labels, the design's
    size and the output's mean and percentiles (``output_*``, in ``unit``)."""
    t = result.table.copy()
    for k, v in reversed(list(result.cell.items())):
        t.insert(0, k, v)
    t["base_samples"] = result.base_samples
    t["model_runs"] = result.model_runs
    for k, v in result.output.items():
        t[f"output_{k}"] = v
    return t[list(RESULT_COLUMNS)]


def read_result(path) -> SensitivityResult:
    """Read a table written by ``urbanmine sensitivity --out`` back into a result."""
    import pandas as pd

    from .io import read_table

    df = read_table(path, RESULT_COLUMNS)
    if df.empty:
        raise InputDataError(f"{path}: no rows")
    for col in ("year", "inputs", "S1", "S1_conf", "ST", "ST_conf", "base_samples", "model_runs", "output_mean",
                "output_p05", "output_p50", "output_p95"):
        vals = pd.to_numeric(df[col], errors="coerce")
        if vals.isna().any():
            i = int(np.argmax(vals.isna().to_numpy()))
            raise InputDataError(f"{path}, line {i + 2}: {col} = {df[col].iloc[i]!r}, expected a number")
        df[col] = vals
    first = df.iloc[0]
    cell = {k: (int(first[k]) if k == "year" else str(first[k]))
            for k in ("region", "year", "element", "stage", "product", "scenario", "unit")}
    table = df[["group", "inputs", "S1", "S1_conf", "ST", "ST_conf"]].reset_index(drop=True)
    return SensitivityResult(table=table, cell=cell, base_samples=int(first["base_samples"]),
                             model_runs=int(first["model_runs"]),
                             output={k: float(first[f"output_{k}"]) for k in ("mean", "p05", "p50", "p95")})


def describe(result: SensitivityResult) -> str:
    """The ranked table as text, for the terminal."""
    c, o = result.cell, result.output
    lines = [
        f"{c['stage']} {c['element']}, {c['product']}, {c['region']}, {c['year']}, scenario {c['scenario']}: "
        f"mean {o['mean']:.4g} {c['unit']} (p05-p95 {o['p05']:.4g}-{o['p95']:.4g})",
        f"Sobol indices by input group: N = {result.base_samples} base samples, {result.model_runs:,} model "
        "runs; 95 % bootstrap half-widths in brackets",
        f"{'group':<44} {'inputs':>6}  {'total ST':>15}  {'first-order S1':>16}",
    ]
    for r in result.table.itertuples():
        lines.append(f"{r.group:<44} {r.inputs:>6}  {r.ST:>7.3f} [{r.ST_conf:5.3f}]  {r.S1:>8.3f} [{r.S1_conf:5.3f}]")
    lines.append("ST: share of the variance that involves the group; S1: share it explains alone; "
                 "ST - S1: its interactions. Indices near 0 within their interval do not matter.")
    return "\n".join(lines)


def plot_tornado(result: SensitivityResult, fh, *, top: int = 12, dpi: int = 200) -> None:
    """A tornado chart of the total and first-order indices of the ``top`` groups, written as PNG
    to the binary file handle ``fh`` (at ``dpi``), with a source line under the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import __version__

    t = result.table.head(top).iloc[::-1]
    c = result.cell
    height = 0.42 * len(t) + 2.0
    fig, ax = plt.subplots(figsize=(8.0, height), dpi=dpi)
    y = np.arange(len(t))
    ax.barh(y, t.ST.clip(lower=0), height=0.6, color="#9ecae1", label="total index ST (alone and in interactions)",
            xerr=t.ST_conf, error_kw={"ecolor": "#08519c", "capsize": 3, "lw": 1})
    ax.barh(y, t.S1.clip(lower=0), height=0.3, color="#08519c", label="first-order index S1 (alone)")
    ax.set_yticks(y, t.group)
    ax.set_xlim(0, max(1.0, float((t.ST + t.ST_conf).max()) * 1.05))
    ax.set_xlabel("share of the output's variance [1]")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    title = (f"What drives the uncertainty of {c['stage'].replace('_', ' ')} {c['element']}, {c['region']}, "
             f"{c['year']}")
    ax.set_title(title + f"\nscenario {c['scenario']}, product {c['product']}", fontsize=10, loc="left")
    o = result.output
    source = (f"Output: mean {o['mean']:.3g} {c['unit']} (p05-p95 {o['p05']:.3g}-{o['p95']:.3g}). Sobol indices "
              f"(SALib: Saltelli 2010 / Jansen 1999), N = {result.base_samples}, {result.model_runs:,} runs, 95 % "
              f"bootstrap intervals.\nSource: urbanmine {__version__}; product profiles, data/ (IEA, IRENA, national "
              "statistics) and the collection model as shipped; see the estimate's meta.json for the files.")
    fig.text(0.01, 0.01, source, fontsize=6.5, va="bottom", ha="left", wrap=True)
    fig.tight_layout(rect=(0, 0.5 / height, 1, 1))
    fig.savefig(fh, format="png", dpi=dpi)
    plt.close(fig)
