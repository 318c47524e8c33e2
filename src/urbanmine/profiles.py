"""Product composition profiles: load, validate and turn into arrays.

A profile (one TOML file per product in ``product_profiles/``, schema in
``product_profiles/README.md``) declares the product unit, its lifetime (and storage delay),
segments (the split of the inflow data, e.g. BEV/PHEV or onshore/offshore), the technologies of
each segment with their shares by cohort year, the magnet mass per unit of each technology, the
element mass fractions of each magnet grade, and end-of-life efficiencies. Every number carries
``source`` keys (into ``product_profiles/references.toml`` or the profile's own ``references``)
or an ``assumption`` with its reasoning.

Values given at anchor years are interpolated linearly between anchors and held constant
before the first and after the last anchor.

Units: magnet mass [kg/unit]; element mass fractions, shares and efficiencies [1] (fractions
within [0, 1], never percent); lifetime parameters [yr] (Weibull shape [1]).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .defaults import default_dir
from .errors import ProfileError
from .lifetimes import FAMILIES, Lifetime

__all__ = [
    "ELEMENTS",
    "SCHEMA_VERSION",
    "Quantity",
    "Technology",
    "Segment",
    "Profile",
    "load_profile",
    "load_profiles",
    "load_references",
    "validate_directory",
]

SCHEMA_VERSION = 1
ELEMENTS = ("Nd", "Pr", "Dy", "Tb")
"""Elements urbanmine models, by chemical symbol."""
WHICH = ("central", "low", "high")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PROVENANCE = {"source", "assumption", "derived", "note", "quality"}
_QUANTITY_KEYS = {"central", "low", "high", "year"} | _PROVENANCE
_TOP_KEYS = {
    "schema_version", "product", "name", "unit", "description", "scope", "elements",
    "lifetime", "storage", "segments", "compositions", "end_of_life", "references",
}
_EOL_KEYS = {"route", "collection_category"}
_SCENARIO_KEYS = {"collection", "liberation", "process_yield"}
"""End-of-life rates are scenario choices (:mod:`urbanmine.scenarios`), not profile data."""
COLLECTION_CATEGORIES = ("weee_all", "small_electronics", "mobile_phones", "vehicles")
"""Categories of the collection-rate model (see :mod:`urbanmine.collection`)."""


# -- data classes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number with its range and provenance, constant or given at anchor years."""

    central: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    years: np.ndarray | None = None
    source: tuple[str, ...] = ()
    assumption: str | None = None
    derived: str | None = None
    note: str | None = None
    quality: str | None = None

    def values(self, which: str = "central") -> np.ndarray:
        """The anchor values of ``which`` (central when no range is given)."""
        v = getattr(self, which)
        return self.central if v is None else v

    def at(self, years, which: str = "central") -> np.ndarray:
        """Values at ``years`` [calendar year], linear between anchors, constant outside."""
        years = np.asarray(years, dtype=float)
        v = self.values(which)
        if self.years is None:
            return np.broadcast_to(v, years.shape).astype(float)
        return np.interp(years, self.years, v)

    @property
    def has_range(self) -> bool:
        return self.low is not None or self.high is not None


@dataclass(frozen=True)
class Technology:
    id: str
    segment: str
    description: str
    composition: str
    magnet_kg_per_unit: Quantity


@dataclass(frozen=True)
class Segment:
    id: str
    description: str
    technologies: dict[str, Technology]
    share_years: np.ndarray
    shares: dict[str, dict[str, np.ndarray]]  # which -> technology -> anchor values
    share_provenance: Quantity  # provenance only (central unused)
    regional: dict = field(default_factory=dict)
    """Shares of a country or region that differ from the default: code -> (years, shares,
    provenance), in the form of ``share_years``, ``shares`` and ``share_provenance``."""

    def share_table(self, variant: str | None = None):
        """``(years, shares)`` of ``variant`` (a code of :attr:`regional`; None: the default)."""
        if variant is None:
            return self.share_years, self.shares
        years, tables, _ = self.regional[variant]
        return years, tables

    def share_values(self, years, which: str = "central", variant: str | None = None) -> np.ndarray:
        """Shares ``[technology, year]`` [1] of ``variant``; ``low``/``high`` fall back to central."""
        anchor_years, tables = self.share_table(variant)
        table = tables.get(which) or tables["central"]
        return np.array([np.interp(np.asarray(years, dtype=float), anchor_years, table[t])
                         for t in self.technologies])

    def has_share_range(self) -> bool:
        tables = [self.shares, *(t for _, t, _ in self.regional.values())]
        return any("low" in t or "high" in t for t in tables)


@dataclass
class Profile:
    """A validated product profile. See the module docstring."""

    product: str
    name: str
    unit: str
    description: str
    scope: str
    elements: tuple[str, ...]
    lifetime: dict
    storage: dict | None
    segments: dict[str, Segment]
    compositions: dict[str, dict[str, Quantity]]
    end_of_life: dict[str, Quantity]
    route: str
    collection_category: str | None
    path: Path | None = None
    references: dict[str, dict] = field(default_factory=dict)
    lifetime_regional: dict = field(default_factory=dict)
    """Lifetime specs of countries or regions that differ from the default: code -> full spec
    (the default's parameters where the variant gives none)."""
    storage_regional: dict = field(default_factory=dict)

    # -- structure ------------------------------------------------------------------------
    @property
    def technologies(self) -> list[tuple[str, str]]:
        """``(segment, technology)`` pairs: the profile's technology axis, in file order."""
        return [(s, t) for s, seg in self.segments.items() for t in seg.technologies]

    def technology(self, segment: str, tech: str) -> Technology:
        return self.segments[segment].technologies[tech]

    # -- arrays ---------------------------------------------------------------------------
    def shares(self, years, which: str = "central", region: str | None = None, regions=None) -> np.ndarray:
        """Share of each technology within its segment, ``[technology, year]`` [1], for
        ``region`` (a country or grouping of ``regions``; default: the profile's default mix)."""
        rows = [seg.share_values(years, which, self.variant(region, list(seg.regional), regions))
                for seg in self.segments.values()]
        return np.concatenate(rows)

    # -- regional variants ----------------------------------------------------------------
    def regional_codes(self) -> list[tuple[str, str]]:
        """``(key, code)`` of every regional variant, ``key`` naming where it is in the file."""
        out = [(f"lifetime.by_region.{c}", c) for c in self.lifetime_regional]
        out += [(f"storage.by_region.{c}", c) for c in self.storage_regional]
        for sid, seg in self.segments.items():
            out += [(f"segments.{sid}.shares.by_region.{c}", c) for c in seg.regional]
        return out

    def check_regions(self, regions) -> None:
        """Raise :class:`ProfileError` if a regional variant names no country or region of
        ``regions`` (:class:`urbanmine.regions.Regions`), or if two groupings of the same size
        would both apply to one country (ambiguous)."""
        from .errors import InputDataError

        problems = []
        for key, code in self.regional_codes():
            if code not in regions.codes or code == "WORLD":
                hint = regions.suggest(code)
                problems.append(f"{self.path}: [{key}] unknown region {code!r}{hint}; expected a country "
                                f"code (ISO 3166-1 alpha-3, e.g. DEU) or a region such as EU27 (not WORLD: "
                                "the default applies to the world)")
        if not problems:
            places = [list(self.lifetime_regional), list(self.storage_regional),
                      *(list(seg.regional) for seg in self.segments.values())]
            for codes in places:
                try:
                    variant_index(codes, regions, regions.countries)
                except InputDataError as exc:
                    problems.append(f"{self.path}: {exc}")
        if problems:
            raise ProfileError(_summarise(problems), problems)

    def variant(self, region, codes, regions) -> str | None:
        """The code among ``codes`` whose values apply to ``region`` (None: the default)."""
        if region is None or not codes:
            return None
        if regions is None:
            return region if region in codes else None
        members = regions.members(region)
        idx = variant_index(codes, regions, members)
        first = idx[0] if len(idx) else -1
        if np.all(idx == first) and first >= 0:
            return codes[first]
        return region if region in codes else None

    def magnet_mass(self, years, which: str = "central") -> np.ndarray:
        """Magnet mass per unit, ``[technology, year]`` [kg/unit]."""
        return np.array(
            [self.technology(s, t).magnet_kg_per_unit.at(years, which) for s, t in self.technologies]
        )

    def element_fractions(self, years, which: str = "central") -> np.ndarray:
        """Element mass fraction of each technology's magnet, ``[technology, element, year]`` [1]."""
        out = []
        for s, t in self.technologies:
            comp = self.compositions[self.technology(s, t).composition]
            out.append([comp[e].at(years, which) for e in self.elements])
        return np.array(out)

    def content(self, years, which: str = "central") -> np.ndarray:
        """Element content per unit, ``[technology, element, year]`` [kg/unit]."""
        return self.magnet_mass(years, which)[:, None, :] * self.element_fractions(years, which)

    def lifetime_spec(self, region=None, regions=None, *, storage: bool = False) -> dict | None:
        """The lifetime (or storage) spec that applies to ``region`` (default: the profile's)."""
        default, regional = (self.storage, self.storage_regional) if storage else (self.lifetime, self.lifetime_regional)
        v = self.variant(region, list(regional), regions)
        return default if v is None else regional[v]

    def lifetime_model(self, which: str = "central", *, with_storage: bool = True, region=None,
                       regions=None) -> Lifetime:
        """The use lifetime, followed by the storage delay if the profile has one, for
        ``region`` (a country or grouping of ``regions``; default: the profile's default)."""
        use = _make_lifetime(self.lifetime_spec(region, regions), which)
        if with_storage and self.storage is not None:
            return use.then(_make_lifetime(self.lifetime_spec(region, regions, storage=True), which))
        return use

    def summary(self, year: int, segment_weights: dict[str, float] | None = None, region=None,
                regions=None, technology_shares=None) -> dict:
        """Technology shares and content per unit for cohort ``year`` (``profiles show``).

        With several segments, each technology's ``share`` is its share within its segment times
        the segment's weight (``segment_weights``, summing to 1; equal weights if not given).
        The shares within segments are those of ``region`` (see :meth:`shares`), or
        ``technology_shares`` ``[technology]`` if given (e.g. an inflow-weighted mix of countries).
        """
        segs = list(self.segments)
        if segment_weights is None:
            segment_weights = {s: 1.0 / len(segs) for s in segs}
        shares = (self.shares([year], region=region, regions=regions)[:, 0] if technology_shares is None
                  else np.asarray(technology_shares, dtype=float))
        content = self.content([year])[:, :, 0]
        techs, avg = {}, np.zeros(len(self.elements))
        for i, (s, t) in enumerate(self.technologies):
            name = t if len(segs) == 1 else f"{s}/{t}"
            share = float(shares[i] * segment_weights[s])
            techs[name] = {
                "share": share,
                "content_kg_per_unit": dict(zip(self.elements, map(float, content[i]))),
            }
            avg += share * content[i]
        out = {
            "product": self.product,
            "unit": self.unit,
            "year": int(year),
            "technologies": techs,
            "average_content_kg_per_unit": dict(zip(self.elements, map(float, avg))),
        }
        if len(segs) > 1:
            out["segment_weights"] = {s: float(w) for s, w in segment_weights.items()}
        return out


def variant_index(codes, regions, countries) -> np.ndarray:
    """For each of ``countries``, the position in ``codes`` of the regional variant that applies
    to it, or -1 for the default.

    A variant named by the country itself applies first; otherwise the variant of the smallest
    grouping (fewest countries) the country belongs to. Two groupings of the same size that both
    contain a country are ambiguous: an :class:`~urbanmine.errors.InputDataError`.
    """
    from .errors import InputDataError

    out = np.full(len(countries), -1, dtype=int)
    if not codes:
        return out
    groups = [(len(regions.members(c)), i, set(regions.members(c))) for i, c in enumerate(codes)
              if not regions.is_country(c)]
    groups.sort()
    own = {c: i for i, c in enumerate(codes) if regions.is_country(c)}
    for j, country in enumerate(countries):
        if country in own:
            out[j] = own[country]
            continue
        found = [(n, i) for n, i, m in groups if country in m]
        if not found:
            continue
        if len(found) > 1 and found[0][0] == found[1][0]:
            a, b = codes[found[0][1]], codes[found[1][1]]
            raise InputDataError(f"[by_region] {a!r} and {b!r} both contain {country} and are of the same "
                                 f"size: which applies is ambiguous; add a variant for {country} itself or "
                                 "remove one")
        out[j] = found[0][1]
    return out


def _make_lifetime(spec: dict, which: str) -> Lifetime:
    cls = FAMILIES[spec["family"]]
    return cls(**{p: float(spec[p].values(which)) for p in cls.param_names})


# -- parsing and validation ---------------------------------------------------------------------


class _Problems:
    """Collects every problem of one file; each is 'file: [key] value ..., expected ...'."""

    def __init__(self, path):
        self.path = path
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.path}: [{key}] {message}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _quantity(raw, key: str, probs: _Problems, refs: set[str], *, kind: str) -> Quantity | None:
    """Parse and check one quantity. ``kind``: 'fraction', 'nonneg' or 'positive'."""
    if _is_number(raw):
        probs.add(key, f"= {raw}: a bare number has no source; expected a table "
                       "{ central = ..., source = [...] } or with assumption = \"...\"")
        return None
    if not isinstance(raw, dict):
        probs.add(key, f"= {raw!r}, expected a table with 'central' and a source or assumption")
        return None
    ok = True
    for k in raw:
        if k not in _QUANTITY_KEYS:
            probs.add(f"{key}.{k}", f"unknown key; expected one of {', '.join(sorted(_QUANTITY_KEYS))}")
            ok = False
    years = raw.get("year")
    arrays = {}
    for which in WHICH:
        if which not in raw:
            continue
        v = raw[which]
        vals = v if isinstance(v, list) else [v]
        if not vals or not all(_is_number(x) for x in vals):
            probs.add(f"{key}.{which}", f"= {v!r}, expected a number or a list of numbers")
            ok = False
            continue
        if isinstance(v, list) != (years is not None):
            probs.add(f"{key}.{which}", "a list needs 'year' (anchor years) and a 'year' needs lists"
                      if years is None else f"= {v!r}, expected a list with one value per year")
            ok = False
            continue
        arrays[which] = np.asarray(vals, dtype=float) if isinstance(v, list) else np.float64(v)
    if "central" not in raw:
        probs.add(key, "missing 'central'")
        return None
    yarr = None
    if years is not None:
        if (not isinstance(years, list) or not years
                or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)):
            probs.add(f"{key}.year", f"= {years!r}, expected a list of integer years")
            return None
        yarr = np.asarray(years, dtype=float)
        if np.any(np.diff(yarr) <= 0):
            probs.add(f"{key}.year", f"= {years}, expected strictly increasing years")
            ok = False
        for which, arr in arrays.items():
            if np.ndim(arr) and arr.shape != yarr.shape:
                probs.add(f"{key}.{which}", f"has {arr.size} values for {yarr.size} years")
                ok = False
    if not ok or "central" not in arrays:
        return None
    c = arrays["central"]
    for which, arr in arrays.items():
        ok &= _check_range(arr, f"{key}.{which}", probs, kind)
    lo, hi = arrays.get("low"), arrays.get("high")
    if lo is not None and np.any(lo > c + 1e-12):
        probs.add(f"{key}.low", f"= {_fmt(lo)} is above central {_fmt(c)}; expected low <= central")
        ok = False
    if hi is not None and np.any(hi < c - 1e-12):
        probs.add(f"{key}.high", f"= {_fmt(hi)} is below central {_fmt(c)}; expected high >= central")
        ok = False
    src = raw.get("source", [])
    if isinstance(src, str):
        src = [src]
    if not isinstance(src, list) or not all(isinstance(s, str) for s in src):
        probs.add(f"{key}.source", f"= {src!r}, expected a list of reference keys")
        ok, src = False, []
    for s in src:
        if s not in refs:
            probs.add(f"{key}.source", f"unknown reference {s!r}; expected a key of references.toml "
                      "or of the profile's [references]")
            ok = False
    assumption = raw.get("assumption")
    if not src and not (isinstance(assumption, str) and assumption.strip()):
        probs.add(key, "has no source and no assumption; every number needs source = [...] or "
                       "assumption = \"reasoning\"")
        ok = False
    if not ok:
        return None
    return Quantity(
        central=c, low=lo, high=hi, years=yarr, source=tuple(src), assumption=assumption,
        derived=raw.get("derived"), note=raw.get("note"), quality=raw.get("quality"),
    )


def _fmt(a) -> str:
    a = np.asarray(a)
    return f"{a.item():g}" if a.ndim == 0 else "[" + ", ".join(f"{x:g}" for x in a) + "]"


def _check_range(arr, key, probs, kind) -> bool:
    arr = np.asarray(arr)
    if kind == "fraction":
        if np.any(arr > 1):
            bad = arr[arr > 1].flat[0]
            hint = " (looks like a percentage: divide by 100)" if bad <= 100 else ""
            probs.add(key, f"= {bad:g}, expected a fraction within [0, 1]{hint}")
            return False
        if np.any(arr < 0):
            probs.add(key, f"= {arr[arr < 0].flat[0]:g}, expected a fraction within [0, 1]")
            return False
    elif kind == "nonneg" and np.any(arr < 0):
        probs.add(key, f"= {arr[arr < 0].flat[0]:g}, expected a value >= 0")
        return False
    elif kind == "positive" and np.any(arr <= 0):
        probs.add(key, f"= {arr[arr <= 0].flat[0]:g}, expected a value > 0")
        return False
    return True


def _lifetime_spec(raw, key, probs, refs):
    if not isinstance(raw, dict):
        probs.add(key, "expected a table with 'family' and its parameters")
        return None
    family = raw.get("family")
    if family not in FAMILIES:
        probs.add(f"{key}.family", f"= {family!r}, expected one of {', '.join(sorted(FAMILIES))}")
        return None
    cls = FAMILIES[family]
    spec = {"family": family}
    for k in raw:
        if k not in ("family", "by_region") and k not in cls.param_names:
            probs.add(f"{key}.{k}", f"unknown parameter for {family}; expected {', '.join(cls.param_names)}")
    for p in cls.param_names:
        if p not in raw:
            probs.add(key, f"missing parameter '{p}' of the {family} lifetime")
            continue
        spec[p] = _lifetime_param(raw[p], f"{key}.{p}", family, p, probs, refs)
    if any(spec.get(p) is None for p in cls.param_names):
        return None
    regional = {}
    by_region = raw.get("by_region", {})
    if not isinstance(by_region, dict):
        probs.add(f"{key}.by_region", "expected tables [" + key + ".by_region.CODE] of parameters")
        by_region = {}
    for code, var in by_region.items():
        vkey = f"{key}.by_region.{code}"
        if not isinstance(var, dict) or not var:
            probs.add(vkey, f"expected a table of the {family} parameters that differ ({', '.join(cls.param_names)})")
            continue
        if var.get("family", family) != family:
            probs.add(f"{vkey}.family", f"= {var['family']!r}, expected {family!r}: a regional lifetime keeps "
                      "the family and changes its parameters")
            continue
        merged = dict(spec)
        for k, v in var.items():
            if k == "family":
                continue
            if k not in cls.param_names:
                probs.add(f"{vkey}.{k}", f"unknown parameter for {family}; expected {', '.join(cls.param_names)}")
                continue
            merged[k] = _lifetime_param(v, f"{vkey}.{k}", family, k, probs, refs)
        if all(merged.get(p) is not None for p in cls.param_names):
            regional[code] = merged
    spec["by_region"] = regional
    return spec


def _lifetime_param(raw, key, family, p, probs, refs):
    kind = "nonneg" if (family in ("normal", "foldednormal") and p == "mean") or family == "fixed" else "positive"
    q = _quantity(raw, key, probs, refs, kind=kind)
    if q is not None and q.years is not None:
        probs.add(key, "lifetime parameters by year are not supported; give one value")
        q = None
    return q


def _segment(sid, raw, probs, refs, compositions) -> Segment | None:
    key = f"segments.{sid}"
    if not _ID.match(sid):
        probs.add(key, f"segment id {sid!r} must be lower_snake_case")
    if not isinstance(raw, dict):
        probs.add(key, "expected a table")
        return None
    for k in raw:
        if k not in {"description", "shares", "technologies"}:
            probs.add(f"{key}.{k}", "unknown key; expected description, shares, technologies")
    techs_raw = raw.get("technologies")
    if not isinstance(techs_raw, dict) or not techs_raw:
        probs.add(f"{key}.technologies", "missing or empty; expected at least one technology")
        return None
    techs = {}
    for tid, t in techs_raw.items():
        tkey = f"{key}.technologies.{tid}"
        if not _ID.match(tid):
            probs.add(tkey, f"technology id {tid!r} must be lower_snake_case")
        if not isinstance(t, dict):
            probs.add(tkey, "expected a table")
            continue
        for k in t:
            if k not in {"description", "composition", "magnet_kg_per_unit"}:
                probs.add(f"{tkey}.{k}", "unknown key; expected description, composition, magnet_kg_per_unit")
        comp = t.get("composition")
        if comp not in compositions:
            probs.add(f"{tkey}.composition", f"= {comp!r}, expected one of the [compositions]: "
                      f"{', '.join(compositions) or '(none)'}")
        if "magnet_kg_per_unit" not in t:
            probs.add(tkey, "missing 'magnet_kg_per_unit' [kg/unit]")
            continue
        q = _quantity(t["magnet_kg_per_unit"], f"{tkey}.magnet_kg_per_unit", probs, refs, kind="nonneg")
        if q is not None and comp in compositions:
            techs[tid] = Technology(tid, sid, t.get("description", ""), comp, q)
    shares_raw = raw.get("shares")
    by_region = {}
    if isinstance(shares_raw, dict) and "by_region" in shares_raw:
        shares_raw = dict(shares_raw)
        by_region = shares_raw.pop("by_region")
        if not isinstance(by_region, dict):
            probs.add(f"{key}.shares.by_region", "expected tables [" + key + ".shares.by_region.CODE]")
            by_region = {}
    shares = _shares(shares_raw, f"{key}.shares", list(techs_raw), probs, refs)
    regional = {}
    for code, var in by_region.items():
        parsed = _shares(var, f"{key}.shares.by_region.{code}", list(techs_raw), probs, refs)
        if parsed is not None:
            regional[code] = parsed
    if shares is None or len(techs) != len(techs_raw) or len(regional) != len(by_region):
        return None
    years, tables, prov = shares
    return Segment(sid, raw.get("description", ""), techs, years, tables, prov, regional)


def _shares(raw, key, tech_ids, probs, refs):
    if not isinstance(raw, dict):
        probs.add(key, "missing; expected year = [...] and central = { technology = [...] }")
        return None
    ok = True
    for k in raw:
        if k not in {"year", "central", "low", "high"} | _PROVENANCE:
            probs.add(f"{key}.{k}", "unknown key")
            ok = False
    years = raw.get("year")
    if (not isinstance(years, list) or not years
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)):
        probs.add(f"{key}.year", f"= {years!r}, expected a list of integer years")
        return None
    if any(b <= a for a, b in zip(years, years[1:])):
        probs.add(f"{key}.year", f"= {years}, expected strictly increasing years")
        return None
    tables = {}
    for which in WHICH:
        if which not in raw:
            if which == "central":
                probs.add(key, "missing 'central' shares")
                return None
            continue
        t = raw[which]
        if not isinstance(t, dict):
            probs.add(f"{key}.{which}", "expected a table technology = [share per year]")
            ok = False
            continue
        missing = [x for x in tech_ids if x not in t]
        extra = [x for x in t if x not in tech_ids]
        if missing or extra:
            probs.add(f"{key}.{which}", f"technologies {sorted(t)} do not match the segment's "
                      f"{sorted(tech_ids)}")
            ok = False
            continue
        arr = {}
        for tid, v in t.items():
            if not isinstance(v, list) or len(v) != len(years) or not all(_is_number(x) for x in v):
                probs.add(f"{key}.{which}.{tid}", f"= {v!r}, expected {len(years)} numbers (one per year)")
                ok = False
                continue
            a = np.asarray(v, dtype=float)
            ok &= _check_range(a, f"{key}.{which}.{tid}", probs, "fraction")
            arr[tid] = a
        if len(arr) == len(tech_ids):
            total = np.sum(list(arr.values()), axis=0)
            for y, s in zip(years, total):
                if abs(s - 1.0) > 1e-6:
                    probs.add(f"{key}.{which}", f"shares in {y} sum to {s:.6g}, expected 1")
                    ok = False
        tables[which] = arr
    src = raw.get("source", [])
    for s in src if isinstance(src, list) else [src]:
        if s not in refs:
            probs.add(f"{key}.source", f"unknown reference {s!r}")
            ok = False
    if not src and not (isinstance(raw.get("assumption"), str) and raw["assumption"].strip()):
        probs.add(key, "has no source and no assumption")
        ok = False
    if not ok:
        return None
    prov = Quantity(central=np.float64(1.0), source=tuple(src), assumption=raw.get("assumption"),
                    derived=raw.get("derived"), note=raw.get("note"), quality=raw.get("quality"))
    return np.asarray(years, dtype=float), tables, prov


def load_references(directory=None) -> dict[str, dict]:
    """The shared bibliography ``references.toml`` of a profile directory (may be empty)."""
    directory = Path(directory) if directory is not None else default_dir("product_profiles")
    path = directory / "references.toml"
    if not path.exists():
        return {}
    data = read_toml(path)
    return {k: v for k, v in data.items() if k != "schema_version" and isinstance(v, dict)}


def read_toml(path: Path, error=ProfileError, what: str = "file") -> dict:
    """Parse a TOML file; any failure is one ``error`` naming the file (``what`` it should be)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file, expected a {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None


def _parse(data: dict, path, shared_refs: dict) -> tuple[Profile | None, list[str]]:
    probs = _Problems(path)
    for k in data:
        if k not in _TOP_KEYS:
            probs.add(k, f"unknown key; expected one of {', '.join(sorted(_TOP_KEYS))}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        probs.add("schema_version", f"= {version!r}, expected {SCHEMA_VERSION}")
        return None, probs.items
    own = data.get("references", {})
    own_refs = {}
    if isinstance(own, list):  # [[references]] with key = "..."
        own_refs = {r.get("key"): r for r in own if isinstance(r, dict)}
    elif isinstance(own, dict):
        own_refs = own
    refs = set(shared_refs) | set(own_refs)
    for k in ("product", "name", "unit", "description"):
        if not isinstance(data.get(k), str) or not data.get(k, "").strip():
            probs.add(k, f"= {data.get(k)!r}, expected a non-empty string")
    product = data.get("product")
    if isinstance(product, str) and not _ID.match(product):
        probs.add("product", f"= {product!r}, expected a lower_snake_case id")
    if isinstance(product, str) and path is not None and Path(path).stem != product:
        probs.add("product", f"= {product!r}, expected the file name {Path(path).stem!r}")
    elements = data.get("elements")
    if not isinstance(elements, list) or not elements or any(e not in ELEMENTS for e in elements):
        probs.add("elements", f"= {elements!r}, expected a list of {', '.join(ELEMENTS)}")
        elements = None
    elif len(set(elements)) != len(elements):
        probs.add("elements", f"= {elements!r} repeats an element")
    lifetime = _lifetime_spec(data.get("lifetime"), "lifetime", probs, refs)
    storage = None
    if "storage" in data:
        storage = _lifetime_spec(data["storage"], "storage", probs, refs)
    comps = {}
    comps_raw = data.get("compositions")
    if not isinstance(comps_raw, dict) or not comps_raw:
        probs.add("compositions", "missing or empty; expected [compositions.NAME] with element fractions")
        comps_raw = {}
    for cid, c in comps_raw.items():
        ckey = f"compositions.{cid}"
        if not isinstance(c, dict):
            probs.add(ckey, "expected a table of element = { central = ... }")
            continue
        comp = {}
        for k, v in c.items():
            if k == "description":
                continue
            if k not in ELEMENTS:
                probs.add(f"{ckey}.{k}", f"unknown element; expected one of {', '.join(ELEMENTS)}")
                continue
            q = _quantity(v, f"{ckey}.{k}", probs, refs, kind="fraction")
            if q is not None:
                comp[k] = q
        for e in elements or []:
            if e not in c:
                probs.add(ckey, f"missing element {e} (listed in 'elements')")
        if elements and all(e in comp for e in elements):
            years = np.unique(np.concatenate(
                [comp[e].years if comp[e].years is not None else [2000.0] for e in elements]))
            for which in WHICH:
                total = sum(comp[e].at(years, which) for e in elements)
                if np.any(total > 1.0 + 1e-9):
                    probs.add(ckey, f"{which} element fractions sum to {np.max(total):.4g} > 1")
        comps[cid] = comp
    segments = {}
    segs_raw = data.get("segments")
    if not isinstance(segs_raw, dict) or not segs_raw:
        probs.add("segments", "missing or empty; expected at least one [segments.NAME]")
        segs_raw = {}
    for sid, s in segs_raw.items():
        seg = _segment(sid, s, probs, refs, comps_raw)
        if seg is not None:
            segments[sid] = seg
    eol_raw = data.get("end_of_life")
    eol = {}
    if not isinstance(eol_raw, dict):
        probs.add("end_of_life", "missing; expected route and (optionally) collection_category")
        eol_raw = {}
    for k in eol_raw:
        if k in _SCENARIO_KEYS:
            probs.add(f"end_of_life.{k}", "is a scenario choice, not a property of the product; set it "
                      "in a scenario's levers (see scenarios/ and 'urbanmine scenarios show')")
        elif k not in _EOL_KEYS:
            probs.add(f"end_of_life.{k}", f"unknown key; expected one of {', '.join(sorted(_EOL_KEYS))}")
    cat = eol_raw.get("collection_category")
    if cat is not None and cat not in COLLECTION_CATEGORIES:
        probs.add("end_of_life.collection_category",
                  f"= {cat!r}, expected one of {', '.join(COLLECTION_CATEGORIES)}")
    route = eol_raw.get("route")
    if not isinstance(route, str) or not route:
        probs.add("end_of_life.route", f"= {route!r}, expected the name of the recovery route")
    if probs.items:
        return None, probs.items
    lifetime_regional = lifetime.pop("by_region", {})
    storage_regional = storage.pop("by_region", {}) if storage is not None else {}
    for var in (*lifetime_regional.values(), *storage_regional.values()):
        var.pop("by_region", None)
    return Profile(
        product=product, name=data["name"], unit=data["unit"], description=data["description"],
        scope=data.get("scope", "").strip(), elements=tuple(elements), lifetime=lifetime,
        storage=storage, segments=segments, compositions=comps, end_of_life=eol, route=route, collection_category=eol_raw.get("collection_category"),
        path=Path(path) if path is not None else None,
        references={**{k: shared_refs[k] for k in shared_refs}, **own_refs},
        lifetime_regional=lifetime_regional, storage_regional=storage_regional,
    ), []


def load_profile(path, references: dict | None = None) -> Profile:
    """Load and validate one profile file; raise :class:`ProfileError` listing every problem."""
    path = Path(path)
    refs = load_references(path.parent) if references is None else references
    profile, problems = _parse(read_toml(path), path, refs)
    if problems:
        raise ProfileError(_summarise(problems), problems)
    return profile


def _summarise(problems: list[str]) -> str:
    head = problems[0]
    more = len(problems) - 1
    return head + (f" (and {more} more problem{'s' if more > 1 else ''}; run "
                   "'urbanmine profiles validate' for all)" if more else "")


def _directory_problem(directory: Path) -> str | None:
    if directory.is_file():
        return (f"{directory}: is a file, expected a directory of product profiles "
                "(*.toml files and references.toml)")
    if not directory.is_dir():
        return f"{directory}: profile directory not found"
    return None


def load_profiles(directory=None) -> dict[str, Profile]:
    """Every profile (``*.toml`` except ``references.toml``) in ``directory``, by product id."""
    directory = Path(directory) if directory is not None else default_dir("product_profiles")
    problem = _directory_problem(directory)
    if problem:
        raise ProfileError(problem)
    refs = load_references(directory)
    files = sorted(p for p in directory.glob("*.toml") if p.name != "references.toml")
    if not files:
        raise ProfileError(f"{directory}: no product profiles (*.toml) found")
    out = {}
    for f in files:
        prof = load_profile(f, refs)
        out[prof.product] = prof
    return out


def validate_directory(directory=None, regions=None) -> tuple[list[str], list[str]]:
    """Check every profile in ``directory``; return (files checked, every problem found).

    With ``regions`` (:class:`urbanmine.regions.Regions`), the codes of regional variants are
    checked against its countries and groupings too."""
    directory = Path(directory) if directory is not None else default_dir("product_profiles")
    problem = _directory_problem(directory)
    if problem:
        return [], [problem]
    problems, files = [], []
    try:
        refs = load_references(directory)
    except ProfileError as exc:
        return [str(directory / "references.toml")], [str(exc)]
    for key, ref in refs.items():
        if not isinstance(ref.get("citation"), str) or not ref["citation"].strip():
            problems.append(f"{directory / 'references.toml'}: [{key}] has no 'citation'")
    paths = sorted(p for p in directory.glob("*.toml") if p.name != "references.toml")
    if not paths:
        problems.append(f"{directory}: no product profiles (*.toml) found")
    for p in paths:
        files.append(str(p))
        try:
            data = read_toml(p)
        except ProfileError as exc:
            problems.append(str(exc))
            continue
        prof, found = _parse(data, p, refs)
        problems.extend(found)
        if prof is not None and regions is not None:
            try:
                prof.check_regions(regions)
            except ProfileError as exc:
                problems.extend(exc.problems if getattr(exc, "problems", None) else [str(exc)])
    return files, problems
