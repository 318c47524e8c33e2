"""Policy scenarios: named, documented choices about end of life, lifetimes and technologies.

A scenario is a TOML file (schema in the README, shipped ones in ``scenarios/``)::

    schema_version = 1
    name = "ev-magnet-removal-2030"          # must match the file name
    description = "EU mandates removal of EV traction-motor magnets from 2030"
    base = "current-practice"                # optional: start from another scenario
    demand = "stated"                        # demand path of the inflow data; default: the base's

    [[levers]]
    parameter = "liberation"                 # see PARAMETERS
    product = "ev_traction_motor"            # a product, or "*"
    region = "EU27"                          # a country, a grouping of countries, or "*"
    year = [2029, 2030]                      # a path: linear between years, flat outside
    value = [0.01, 0.90]
    from_year = 2029                         # optional: applies from this year on only
    low = [0.0, 0.70]                        # optional uncertainty around the value
    high = [0.03, 0.95]
    assumption = "..."                       # or source = ["KEY", ...] (product_profiles/references.toml)

A scenario is a *choice*: the Monte Carlo samples never move between scenarios, they move
within a lever's ``low``-``high`` range around the chosen value (a triangular distribution, one
draw per product and parameter and sample, shared by every scenario of a run so that
differences between scenarios have valid ranges).

Parameters (:data:`PARAMETERS`)
-------------------------------
``collection``, ``liberation``, ``process_yield``
    End-of-life rates [1], applied by the calendar year in which products reach end of life.
    Without a ``collection`` lever a product uses the fitted collection-rate model (if its
    profile names a collection category).
``lifetime_factor``
    A factor [1] on the use lifetime (every time parameter of the distribution is scaled, so the
    mean is multiplied by it; a storage delay after use is unchanged), applied by cohort: to
    products sold in that year (repair, life extension, repowering).
``technology_shift``
    The fraction [1] of the sales of technology ``from`` moved to technology ``to`` (e.g.
    ``from = "pmsm"``, ``to = "eesm"``), by cohort, in every segment of the product that has
    both technologies (or one segment: ``from = "bev/pmsm"``).

Resolution
----------
The base's levers come first, then the file's own. A lever set for a grouping of countries
(``EU27``, ``G7``, a user's grouping) applies to each member country. For one parameter, product,
country and year the lever that applies is the most specific one in force that year (a named
product before ``"*"``; then a country before a grouping before ``"*"``); among equally specific
levers the later one wins (so a scenario overrides its base). A lever with ``from_year`` is in force from that year on;
before it, whatever applied without it (a base's lever, or for ``collection`` the fitted model).
``technology_shift`` levers are kept apart per ``from``/``to`` pair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputDataError
from .profiles import _is_number

__all__ = ["PARAMETERS", "SCHEMA_VERSION", "Lever", "Scenario", "load_scenario", "list_scenarios",
           "validate_scenarios", "scenario_dir"]

SCHEMA_VERSION = 1
PARAMETERS = {
    # name: (kind of value, applied by, unit, description)
    "collection": ("fraction", "end-of-life year", "1", "share of end-of-life products collected"),
    "liberation": ("fraction", "end-of-life year", "1", "share of the magnet mass in collected products removed for recovery"),
    "process_yield": ("fraction", "end-of-life year", "1", "share of the liberated rare earths separated"),
    "lifetime_factor": ("positive", "cohort", "1", "factor on the use lifetime of products sold that year"),
    "technology_shift": ("fraction", "cohort", "1", "fraction of technology 'from' sales moved to 'to'"),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TOP_KEYS = {"schema_version", "name", "description", "base", "demand", "levers", "note"}
_LEVER_KEYS = {"parameter", "product", "region", "year", "value", "low", "high", "source",
               "assumption", "status", "note", "from", "to", "from_year"}
STATUSES = ("adopted", "proposed", "observed", "assumed", "demonstrated")


def scenario_dir() -> Path:
    """Directory of the shipped scenarios."""
    from .defaults import default_dir

    return default_dir("scenarios")


@dataclass(frozen=True)
class Lever:
    """One resolved lever: a year path of values with an optional range and its provenance."""

    parameter: str
    product: str
    region: str
    years: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    source: tuple[str, ...] = ()
    assumption: str | None = None
    status: str | None = None
    note: str | None = None
    technology_from: str | None = None
    technology_to: str | None = None
    from_year: int | None = None
    origin: str = ""  # the scenario file that set it

    def at(self, years, which: str = "value") -> np.ndarray:
        """Values at ``years``: linear between the lever's years, flat outside."""
        return np.interp(np.asarray(years, dtype=float), self.years, getattr(self, which))

    @property
    def has_range(self) -> bool:
        return bool(np.any(self.low != self.value) or np.any(self.high != self.value))

    @property
    def key(self):
        return (self.parameter, self.product, self.region, self.technology_from, self.technology_to)


@dataclass
class Scenario:
    """A resolved scenario: its own fields and the levers of its base chain, in order."""

    name: str
    description: str
    demand: str
    levers: list[Lever]
    path: Path | None = None
    chain: list[str] = field(default_factory=list)  # names from the root base to this one
    regions: object = None  # urbanmine.regions.Regions the lever regions refer to
    _cache: dict = field(default_factory=dict, repr=False)

    # -- lookup ---------------------------------------------------------------------------
    def _candidates(self, parameter, product, technology_from=None, technology_to=None):
        """Levers for ``parameter`` and ``product``, least specific first: a named product beats
        ``"*"``, then a country beats a grouping beats ``"*"``, then a later lever an earlier one."""
        found = []
        for i, lv in enumerate(self.levers):
            if lv.parameter != parameter or lv.product not in (product, "*"):
                continue
            if parameter == "technology_shift" and (lv.technology_from, lv.technology_to) != (technology_from, technology_to):
                continue
            level = self.regions.specificity(lv.region) if self.regions is not None else int(lv.region != "*")
            found.append(((lv.product != "*", level, i), lv))
        return [lv for _, lv in sorted(found, key=lambda x: x[0])]

    def shifts(self, product: str) -> list[tuple[str, str]]:
        """The ``(from, to)`` technology pairs this scenario shifts for ``product``."""
        pairs = [(lv.technology_from, lv.technology_to) for lv in self.levers
                 if lv.parameter == "technology_shift" and lv.product in (product, "*")]
        return list(dict.fromkeys(pairs))

    def _region_mask(self, region, countries) -> np.ndarray:
        if region == "*":
            return np.ones(len(countries), bool)
        members = set(self.regions.members(region)) if self.regions is not None else {region}
        return np.array([c in members for c in countries])

    def paths(self, parameter: str, product: str, countries, years, technology_from=None,
              technology_to=None):
        """``(value, low, high)`` arrays ``[country, year]``, or None if no lever applies at all.

        Cells where no lever is in force (before every applicable ``from_year``) are NaN. A
        lever set for a grouping applies to each of its member countries.
        """
        years = np.asarray(years, dtype=float)
        key = (parameter, product, technology_from, technology_to, tuple(countries), years.tobytes())
        if key in self._cache:
            return self._cache[key]
        out = np.full((3, len(countries), years.size), np.nan)
        for lv in self._candidates(parameter, product, technology_from, technology_to):
            on = years >= (lv.from_year if lv.from_year is not None else -np.inf)
            cells = self._region_mask(lv.region, countries)[:, None] & on[None, :]
            for j, w in enumerate(("value", "low", "high")):
                out[j] = np.where(cells, lv.at(years, w)[None, :], out[j])
        result = None if np.all(np.isnan(out[0])) else (out[0], out[1], out[2])
        self._cache[key] = result
        return result

    def describe(self) -> list[dict]:
        """The levers in force, one dict per lever (for ``scenarios show`` and the metadata)."""
        out = []
        for lv in self.levers:
            d = {"parameter": lv.parameter, "product": lv.product, "region": lv.region,
                 "year": [int(y) for y in lv.years], "value": [float(v) for v in lv.value]}
            if lv.has_range:
                d["low"] = [float(v) for v in lv.low]
                d["high"] = [float(v) for v in lv.high]
            if lv.technology_from:
                d["from"], d["to"] = lv.technology_from, lv.technology_to
            if lv.from_year is not None:
                d["from_year"] = lv.from_year
            for k in ("status", "assumption", "note"):
                if getattr(lv, k):
                    d[k] = getattr(lv, k)
            if lv.source:
                d["source"] = list(lv.source)
            d["set_in"] = lv.origin
            out.append(d)
        return out

    def effective_levers(self) -> list[Lever]:
        """The levers that are not overridden by a later lever with the same key."""
        last = {lv.key: i for i, lv in enumerate(self.levers)}
        return [lv for i, lv in enumerate(self.levers) if last[lv.key] == i]


# -- parsing ------------------------------------------------------------------------------------


def _read(path: Path) -> dict:
    from .profiles import read_toml

    return read_toml(path, InputDataError, "scenario TOML file")


def _parse_levers(data, path, problems, context) -> list[Lever]:
    """Check the levers of one file; append every problem (``file: [levers.N.key] ...``)."""
    products, regions, refs = context["products"], context["regions"], context["references"]
    technologies = context.get("technologies", {})
    raw = data.get("levers", [])
    if not isinstance(raw, list):
        problems.append(f"{path}: [levers] expected an array of tables [[levers]]")
        return []
    out = []
    for n, lv in enumerate(raw, start=1):
        key = f"levers.{n}"

        def bad(field_, msg, key=key):
            problems.append(f"{path}: [{key}.{field_}] {msg}" if field_ else f"{path}: [{key}] {msg}")

        if not isinstance(lv, dict):
            bad("", "expected a table")
            continue
        ok = True
        for k in lv:
            if k not in _LEVER_KEYS:
                bad(k, f"unknown key; expected one of {', '.join(sorted(_LEVER_KEYS))}")
                ok = False
        param = lv.get("parameter")
        if param not in PARAMETERS:
            bad("parameter", f"= {param!r}, expected one of {', '.join(PARAMETERS)}")
            ok = False
        product = lv.get("product", "*")
        if product != "*" and products is not None and product not in products:
            bad("product", f"= {product!r}, expected \"*\" or one of {', '.join(products)}")
            ok = False
        region = lv.get("region", "*")
        if region != "*" and regions is not None:
            try:
                region = regions.resolve(region) if hasattr(regions, "resolve") else region
                if not hasattr(regions, "resolve") and region not in regions:
                    raise InputDataError(f"unknown region {region!r}")
            except InputDataError as exc:
                bad("region", f"= {lv.get('region')!r}: {exc}")
                ok = False
        tfrom, tto = lv.get("from"), lv.get("to")
        if param == "technology_shift":
            if product == "*":
                bad("product", "a technology shift needs a named product")
                ok = False
            for k, t in (("from", tfrom), ("to", tto)):
                known = technologies.get(product)
                if not isinstance(t, str) or (known is not None and not _technology_known(t, known)):
                    bad(k, f"= {t!r}, expected a technology of {product}"
                        + (f": {', '.join(sorted(known))}" if known else ""))
                    ok = False
            if tfrom is not None and tfrom == tto:
                bad("to", "is the same technology as 'from'")
                ok = False
        elif tfrom is not None or tto is not None:
            bad("from", "'from' and 'to' belong to technology_shift levers only")
            ok = False
        years = lv.get("year")
        value = lv.get("value")
        if years is None:  # a constant: one value, no years
            if not _is_number(value):
                bad("value", f"= {value!r}, expected a number (or year = [...] with value = [...])")
                continue
            years_arr = np.array([2000.0])
            arrays = {"value": np.array([float(value)])}
            for w in ("low", "high"):
                if w in lv:
                    if not _is_number(lv[w]):
                        bad(w, f"= {lv[w]!r}, expected a number like 'value'")
                        ok = False
                    else:
                        arrays[w] = np.array([float(lv[w])])
        else:
            if (not isinstance(years, list) or not years
                    or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)):
                bad("year", f"= {years!r}, expected a list of integer years")
                continue
            if any(b <= a for a, b in zip(years, years[1:])):
                bad("year", f"= {years}, expected strictly increasing years")
                ok = False
            years_arr = np.asarray(years, dtype=float)
            arrays = {}
            for w in ("value", "low", "high"):
                if w not in lv:
                    continue
                v = lv[w]
                if not isinstance(v, list) or not all(_is_number(x) for x in v):
                    bad(w, f"= {v!r}, expected a list of {len(years)} numbers (one per year)")
                    ok = False
                elif len(v) != len(years):
                    bad(w, f"has {len(v)} values for {len(years)} years")
                    ok = False
                else:
                    arrays[w] = np.asarray(v, dtype=float)
            if "value" not in lv:
                bad("", "missing 'value'")
                ok = False
        kind = PARAMETERS.get(param, ("fraction",))[0]
        for w, arr in arrays.items():
            if kind == "fraction" and np.any((arr < 0) | (arr > 1)):
                x = arr[(arr < 0) | (arr > 1)][0]
                hint = " (looks like a percentage: divide by 100)" if 1 < x <= 100 else ""
                bad(w, f"= {x:g}, expected a fraction within [0, 1]{hint}")
                ok = False
            if kind == "positive" and np.any(arr <= 0):
                bad(w, f"= {arr[arr <= 0][0]:g}, expected a factor > 0")
                ok = False
        v = arrays.get("value")
        if v is not None:
            if "low" in arrays and np.any(arrays["low"] > v + 1e-12):
                bad("low", "is above 'value'; expected low <= value <= high")
                ok = False
            if "high" in arrays and np.any(arrays["high"] < v - 1e-12):
                bad("high", "is below 'value'; expected low <= value <= high")
                ok = False
        src = lv.get("source", [])
        if isinstance(src, str):
            src = [src]
        if not isinstance(src, list) or not all(isinstance(s, str) for s in src):
            bad("source", f"= {src!r}, expected a list of reference keys")
            ok, src = False, []
        for s in src:
            if refs is not None and s not in refs:
                bad("source", f"unknown reference {s!r}; expected a key of product_profiles/references.toml")
                ok = False
        assumption = lv.get("assumption")
        if not src and not (isinstance(assumption, str) and assumption.strip()):
            bad("", "has no source and no assumption; every lever needs source = [...] or "
                "assumption = \"reasoning\"")
            ok = False
        status = lv.get("status")
        if status is not None and status not in STATUSES:
            bad("status", f"= {status!r}, expected one of {', '.join(STATUSES)}")
            ok = False
        from_year = lv.get("from_year")
        if from_year is not None and (not isinstance(from_year, int) or isinstance(from_year, bool)):
            bad("from_year", f"= {from_year!r}, expected an integer year")
            ok = False
        if not ok or v is None:
            continue
        out.append(Lever(
            parameter=param, product=product, region=region, years=years_arr, value=v,
            low=arrays.get("low", v), high=arrays.get("high", v), source=tuple(src),
            assumption=assumption, status=status, note=lv.get("note"),
            technology_from=tfrom, technology_to=tto, from_year=from_year, origin=str(path),
        ))
    return out


def _technology_known(t: str, known: set[str]) -> bool:
    """``t`` is ``tech`` (in some segment) or ``segment/tech``."""
    return t in known or any(k.split("/", 1)[1] == t for k in known if "/" in k)


def _locate(name_or_path, search_dirs) -> Path:
    p = Path(str(name_or_path))
    if p.suffix == ".toml" or p.parent != Path("."):
        if p.is_dir():
            raise InputDataError(f"{p}: is a directory, expected a scenario TOML file")
        if not p.exists():
            raise InputDataError(f"{p}: scenario file not found")
        return p
    for d in search_dirs:
        cand = Path(d) / f"{name_or_path}.toml"
        if cand.is_file():
            return cand
    known = sorted({q.stem for d in search_dirs if Path(d).is_dir() for q in Path(d).glob("*.toml")})
    raise InputDataError(
        f"unknown scenario {str(name_or_path)!r}; expected a file path or one of {', '.join(known)}"
        + _did_you_mean(str(name_or_path), known)
    )


def _did_you_mean(word, known) -> str:
    import difflib

    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _context(profiles, regions, demand_paths, references):
    technologies = {}
    for name, prof in (profiles or {}).items():
        technologies[name] = {f"{s}/{t}" for s, t in prof.technologies}
    return {  # None: not checked (listing scenarios without the data at hand)
        "products": None if profiles is None else list(profiles),
        "regions": regions,
        "demand_paths": None if demand_paths is None else list(demand_paths),
        "references": references,
        "technologies": technologies,
    }


def _load_chain(name_or_path, search_dirs, context, problems, seen) -> Scenario | None:
    path = _locate(name_or_path, search_dirs)
    data = _read(path)
    start = len(problems)
    for k in data:
        if k not in _TOP_KEYS:
            problems.append(f"{path}: [{k}] unknown key; expected one of {', '.join(sorted(_TOP_KEYS))}")
    if data.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"{path}: [schema_version] = {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{path}: [name] = {name!r}, expected lower-case letters, digits, '-' or '_'")
    elif name != path.stem:
        problems.append(f"{path}: [name] = {name!r}, expected the file name {path.stem!r}")
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        problems.append(f"{path}: [description] = {desc!r}, expected a non-empty string")
    key = str(path.resolve())
    if key in seen:
        cycle = " -> ".join([*seen, key])
        problems.append(f"{path}: [base] cycle of bases: {cycle}")
        return None
    base = None
    if "base" in data:
        b = data["base"]
        if not isinstance(b, str) or not b:
            problems.append(f"{path}: [base] = {b!r}, expected the name or path of another scenario")
        else:
            try:
                base = _load_chain(b, [path.parent, *search_dirs], context, problems, [*seen, key])
            except InputDataError as exc:
                problems.append(f"{path}: [base] {exc}")
            if base is None and len(problems) == start:
                problems.append(f"{path}: [base] = {b!r} could not be loaded")
    demand = data.get("demand", base.demand if base is not None else None)
    known_demand = context["demand_paths"]
    if demand is None:
        problems.append(f"{path}: [demand] missing; expected a demand path such as "
                        f"{', '.join(known_demand or ['stated'])} (or a base that sets it)")
    elif known_demand is not None and demand not in known_demand:
        problems.append(f"{path}: [demand] = {demand!r}, expected one of {', '.join(context['demand_paths'])}")
    levers = _parse_levers(data, path, problems, context)
    if len(problems) > start:
        return None
    regions = context["regions"] if hasattr(context["regions"], "resolve") else None
    return Scenario(
        name=name, description=desc.strip(), demand=demand,
        levers=(base.levers if base is not None else []) + levers, path=path,
        chain=(base.chain if base is not None else []) + [name], regions=regions,
    )


def load_scenario(name_or_path, *, profiles=None, regions=None, demand_paths=None, references=None,
                  search_dirs=None) -> Scenario:
    """Load, check and resolve one scenario (a shipped name or a file path).

    ``profiles`` (dict of :class:`~urbanmine.profiles.Profile`), ``regions``, ``demand_paths``
    and ``references`` (the keys of ``references.toml``) are what products, regions, demand
    paths and sources may name. Raises :class:`InputDataError` with the first problem (and how
    many more there are).
    """
    problems: list[str] = []
    dirs = list(search_dirs) if search_dirs is not None else [scenario_dir()]
    context = _context(profiles, regions, demand_paths, references)
    scen = _load_chain(name_or_path, dirs, context, problems, [])
    if problems:
        more = len(problems) - 1
        raise InputDataError(problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''}; run "
                                            "'urbanmine scenarios validate' for all)" if more else ""))
    return scen


def list_scenarios(directory=None) -> list[Path]:
    """The scenario files of a directory (default: the shipped ``scenarios/``)."""
    d = Path(directory) if directory is not None else scenario_dir()
    return sorted(d.glob("*.toml"))


def validate_scenarios(paths, *, profiles=None, regions=None, demand_paths=None, references=None,
                       search_dirs=None) -> list[str]:
    """Every problem in the given scenario files (each checked with its base chain)."""
    problems: list[str] = []
    dirs = list(search_dirs) if search_dirs is not None else [scenario_dir()]
    context = _context(profiles, regions, demand_paths, references)
    for p in paths:
        try:
            _load_chain(Path(p), dirs, context, problems, [])
        except InputDataError as exc:
            problems.append(str(exc))
    return list(dict.fromkeys(problems))
