"""Countries, the base unit, and regions, which are named groupings of countries.

Shipped tables (``data/``, built by ``scripts/build_data.py``):

* ``countries.csv`` (``code,name,m49,un_region,source``): UN World Population Prospects 2019's
  235 countries and areas, by ISO 3166-1 alpha-3 code;
* ``region_groups.csv`` (``region,member``): one row per member of a grouping; a member is a
  country or another grouping (e.g. ``AMERICAS`` = ``LATIN_AMERICA_CARIBBEAN`` +
  ``NORTHERN_AMERICA``);
* ``regions.csv`` (``code,name,definition,all_order,source``): names of the groupings; the rows
  with ``all_order > 0`` are what ``--region all`` reports, in that order (the seven regions of
  urbanmine 0.1, CHN, EU27, USA, JPN, KOR, IND, ROW, and WORLD).

``WORLD`` is every country. A user's own groupings come from a CSV with exactly the columns
``region,member`` (:func:`load_regions` ``extra=``). Codes are matched case-insensitively.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputDataError

__all__ = ["WORLD", "Regions", "load_regions"]

WORLD = "WORLD"
"""Every country."""
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class Regions:
    """The countries and every grouping of them."""

    countries: list[str]
    names: dict[str, str]
    groups: dict[str, list[str]]  # direct members: countries or groups
    definitions: dict[str, str] = field(default_factory=dict)
    user_groups: list[str] = field(default_factory=list)
    default: list[str] = field(default_factory=list)  # what 'all' means (regions.csv all_order)
    _index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._index = {c: i for i, c in enumerate(self.countries)}
        self._upper = {c.upper(): c for c in [*self.countries, *self.groups, WORLD]}

    # -- lookup -----------------------------------------------------------------------------
    @property
    def codes(self) -> list[str]:
        """Every code that names something: countries, groups and WORLD."""
        return [*self.countries, *self.groups, WORLD]

    def resolve(self, code: str, what: str = "region") -> str:
        """The canonical spelling of ``code`` (case-insensitive); an error with a suggestion."""
        found = self._upper.get(str(code).upper())
        if found is None:
            hint = self.suggest(code)
            raise InputDataError(
                f"unknown {what} {code!r}{hint}; expected a country code (ISO 3166-1 alpha-3, e.g. "
                f"DEU, GBR, BRA) or a region ({', '.join([*sorted(self.groups), WORLD])}); "
                "'urbanmine regions' lists them"
            )
        return found

    def suggest(self, word: str, codes=None) -> str:
        """A hint such as `` (did you mean 'DEU', Germany?)`` for a mistyped code or a country's name, or ``''``."""
        upper = {c.upper(): c for c in codes} if codes is not None else self._upper
        by_name = {n.upper(): c for c, n in self.names.items() if c.upper() in upper}
        close = difflib.get_close_matches(str(word).upper(), list(by_name), n=1, cutoff=0.75)
        if close:
            return f" (did you mean {by_name[close[0]]!r}, {self.names[by_name[close[0]]]}?)"
        close = difflib.get_close_matches(str(word).upper(), list(upper), n=1, cutoff=0.6)
        return f" (did you mean {upper[close[0]]!r}?)" if close else ""

    def is_country(self, code: str) -> bool:
        return code in self._index

    def members(self, code: str) -> list[str]:
        """The countries of ``code`` (itself for a country; every country for WORLD)."""
        if code == WORLD:
            return list(self.countries)
        if code in self._index:
            return [code]
        out: list[str] = []
        for m in self.groups[code]:
            out.extend(self.members(m))
        return list(dict.fromkeys(out))

    def membership(self, codes) -> np.ndarray:
        """0/1 matrix ``[len(codes), country]``: row i marks the countries of ``codes[i]``."""
        m = np.zeros((len(codes), len(self.countries)))
        for i, c in enumerate(codes):
            m[i, [self._index[x] for x in self.members(c)]] = 1.0
        return m

    def index(self, countries) -> np.ndarray:
        return np.array([self._index[c] for c in countries], dtype=int)

    def specificity(self, code: str) -> int:
        """How specific a lever's region is: 0 for '*', 1 for a grouping, 2 for a country."""
        if code == "*":
            return 0
        return 2 if code in self._index else 1


def _read(path: Path, columns):
    from .io import read_table

    return read_table(path, columns)


def load_regions(data=None, extra=None) -> Regions:
    """The shipped countries and groupings of ``data`` (default: the shipped ``data/``) plus a
    user's groupings from the CSV ``extra`` (``region,member``).

    Raises :class:`InputDataError` naming the file, row and value for an unknown member (with a
    suggestion), a duplicate row, a user region that reuses a country or shipped code, or a
    cycle of groupings.
    """
    from .inflows import data_dir

    d = data_dir(data)
    countries = _read(d / "countries.csv", ("code", "name"))
    groups_df = _read(d / "region_groups.csv", ("region", "member"))
    names_df = _read(d / "regions.csv", ("code", "name", "definition"))
    codes = list(countries["code"])
    names = dict(zip(countries["code"], countries["name"]))
    names.update(dict(zip(names_df["code"], names_df["name"])))
    definitions = dict(zip(names_df["code"], names_df["definition"]))
    default = []
    if "all_order" in names_df.columns:
        order = names_df[["code", "all_order"]].assign(all_order=lambda d: d["all_order"].astype(int))
        default = list(order[order.all_order > 0].sort_values("all_order")["code"])
    groups: dict[str, list[str]] = {}
    for r in groups_df.itertuples(index=False):
        groups.setdefault(r.region, []).append(r.member)
    regions = Regions(codes, names, groups, definitions, default=default)
    _check_members(regions, d / "region_groups.csv", groups_df, set())
    if extra is not None:
        regions = _add_user_groups(regions, Path(extra))
    _check_cycles(regions)
    return regions


def _check_members(regions: Regions, path, df, user):
    known = {c.upper(): c for c in regions.codes}
    for i, r in enumerate(df.itertuples(index=False)):
        if str(r.member).upper() not in known:
            hint = regions.suggest(r.member)
            raise InputDataError(
                f"{path}, line {i + 2}: member = {r.member!r} is not a country code or region{hint}; "
                "expected an ISO 3166-1 alpha-3 code or a region name"
            )


def _add_user_groups(regions: Regions, path: Path) -> Regions:
    df = _read(path, ("region", "member"))
    extra_cols = [c for c in df.columns if c not in ("region", "member")]
    if extra_cols:
        raise InputDataError(f"{path}: unexpected column {extra_cols[0]!r}; expected exactly the columns region,member")
    groups = {k: list(v) for k, v in regions.groups.items()}
    seen = set()
    taken = {c.upper() for c in regions.codes}
    user = []
    for i, r in enumerate(df.itertuples(index=False)):
        line = i + 2
        region, member = (str(r.region).strip() if r.region == r.region else ""), (
            str(r.member).strip() if r.member == r.member else "")
        if not region or not member:
            raise InputDataError(f"{path}, line {line}: region and member must both be given")
        if not _CODE.match(region):
            raise InputDataError(f"{path}, line {line}: region = {region!r}, expected letters, digits and _ "
                                 "starting with a letter")
        if region.upper() in taken and region not in user:
            raise InputDataError(f"{path}, line {line}: region = {region!r} is already a country or shipped "
                                 "region; choose another name")
        if (region.upper(), member.upper()) in seen:
            raise InputDataError(f"{path}, line {line}: duplicate row region = {region!r}, member = {member!r}")
        seen.add((region.upper(), member.upper()))
        if region not in user:
            user.append(region)
            groups[region] = []
        groups[region].append(member)
    upper = {c.upper(): c for c in [*regions.countries, *groups, WORLD]}
    for i, r in enumerate(df.itertuples(index=False)):
        m = str(r.member).strip()
        if m.upper() not in upper:
            hint = regions.suggest(m, list(upper.values()))
            raise InputDataError(f"{path}, line {i + 2}: member = {m!r} is not a country code or region{hint}; "
                                 "expected an ISO 3166-1 alpha-3 code or a region name")
        if upper[m.upper()] == WORLD:
            raise InputDataError(f"{path}, line {i + 2}: member = {m!r}: WORLD cannot be a member")
    for g in user:
        groups[g] = [upper[m.upper()] for m in groups[g]]
    names = dict(regions.names)
    names.update({g: g for g in user})
    definitions = dict(regions.definitions)
    definitions.update({g: f"user grouping from {path}" for g in user})
    out = Regions(regions.countries, names, groups, definitions, user, regions.default)
    out._source = path
    return out


def _check_cycles(regions: Regions):
    state: dict[str, int] = {}

    def visit(g, path):
        state[g] = 1
        for m in regions.groups[g]:
            if m in regions.groups:
                if state.get(m) == 1:
                    where = getattr(regions, "_source", "region_groups.csv")
                    raise InputDataError(f"{where}: cycle of regions {' -> '.join([*path, g, m])}")
                if state.get(m) is None:
                    visit(m, [*path, g])
        state[g] = 2

    for g in regions.groups:
        if state.get(g) is None:
            visit(g, [])
