"""Product profiles: the shipped files, derived numbers recomputed by hand, invalid fixtures."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import gamma

from urbanmine.cli import main
from urbanmine.errors import ProfileError
from urbanmine.profiles import ELEMENTS, load_profile, load_profiles, validate_directory

ROOT = Path(__file__).parents[1]
SHIPPED = ROOT / "product_profiles"
FIXTURES = Path(__file__).parent / "data" / "profiles"
PRODUCTS = ("smartphone", "ev_traction_motor", "wind_turbine")


def raw(name):
    return tomllib.loads((SHIPPED / f"{name}.toml").read_text(encoding="utf-8"))


def walk_quantities(node, path=""):
    """Every table with a 'central' key, found without the loader."""
    if isinstance(node, dict):
        if "central" in node and not isinstance(node["central"], dict):
            yield path, node
        for k, v in node.items():
            yield from walk_quantities(v, f"{path}.{k}" if path else k)


def test_shipped_profiles_are_valid():
    files, problems = validate_directory(SHIPPED)
    assert problems == []
    assert sorted(Path(f).stem for f in files) == sorted(PRODUCTS)
    assert set(load_profiles(SHIPPED)) == set(PRODUCTS)


@pytest.mark.parametrize("name", PRODUCTS)
def test_every_number_has_a_source_or_an_assumption(name):
    refs = tomllib.loads((SHIPPED / "references.toml").read_text(encoding="utf-8"))
    found = 0
    for path, q in walk_quantities(raw(name)):
        found += 1
        has_source = bool(q.get("source"))
        has_assumption = bool(str(q.get("assumption", "")).strip())
        assert has_source or has_assumption, path
        for key in q.get("source", []):
            assert key in refs and refs[key]["citation"].strip(), (path, key)
    assert found > 5


@pytest.mark.parametrize("name", PRODUCTS)
def test_shares_sum_to_one_and_fractions_within_unit_interval(name):
    data = raw(name)
    for seg in data["segments"].values():
        for which in ("central", "low", "high"):
            if which in seg["shares"]:
                total = np.sum([v for v in seg["shares"][which].values()], axis=0)
                np.testing.assert_allclose(total, 1.0, atol=1e-9)
    for comp in data["compositions"].values():
        for e, q in comp.items():
            if e in ELEMENTS:
                for which in ("central", "low", "high"):
                    v = np.atleast_1d(q.get(which, q["central"]))
                    assert np.all((v >= 0) & (v <= 1))
    # end-of-life rates are scenario choices: a profile keeps only the physical product
    assert set(data["end_of_life"]) <= {"route", "collection_category"}


def test_derived_lifetime_scales_match_their_stated_means():
    # scale = mean / Γ(1 + 1/shape), as each profile says
    phone = raw("smartphone")
    g2 = gamma(1.5)
    stated_use = {None: (2.5, 1.92, 3.6), "JPN": (4.4, 2.2, 4.9), "CHN": (25.3 / 12, 1.9, 28 / 12),
                  "USA": (2.42, 2.0, 41 / 12), "EU27": (3.0, 1.92, 38 / 12), "IND": (2.5, 20 / 12, 2.5)}
    for region, (mean, low, high) in stated_use.items():
        scale = (phone["lifetime"] if region is None else phone["lifetime"]["by_region"][region])["scale"]
        assert [scale["central"], scale["low"], scale["high"]] == pytest.approx(
            [mean / g2, low / g2, high / g2], abs=2e-3), region
    assert phone["storage"]["scale"]["central"] == pytest.approx(3.0 / gamma(1 + 1 / 1.5), abs=1e-3)
    wind = raw("wind_turbine")["lifetime"]
    g = gamma(1 + 1 / 4.0)
    stated = {None: (25, 20, 30), "EU27": (33, 28, 38), "USA": (27, 22, 32), "CHN": (23, 20, 27)}
    for region, (mean, low, high) in stated.items():
        scale = (wind if region is None else wind["by_region"][region])["scale"]
        assert [scale["central"], scale["low"], scale["high"]] == pytest.approx(
            [mean / g, low / g, high / g], abs=0.01)
    # the loaded lifetimes have those means, by region
    profs = load_profiles(SHIPPED)
    from urbanmine.regions import load_regions

    regions = load_regions()
    for region, code in ((None, None), ("EU27", "DEU"), ("USA", "USA"), ("CHN", "CHN"), (None, "BRA")):
        mean = float(profs["wind_turbine"].lifetime_model(region=code, regions=regions).mean())
        assert mean == pytest.approx(stated[region][0], abs=0.01)
    assert float(profs["smartphone"].lifetime_model().mean()) == pytest.approx(2.5 + 3.0, abs=0.01)
    assert float(profs["smartphone"].lifetime_model(region="JPN", regions=regions).mean()) == pytest.approx(
        4.4 + 3.0, abs=0.01)
    assert float(profs["ev_traction_motor"].lifetime_model().mean()) == pytest.approx(
        16.07 * gamma(1 + 1 / 2.01), rel=1e-12)


def test_derived_magnet_masses_and_compositions():
    ev = raw("ev_traction_motor")
    # IEA 0.5 kg rare earths per car / 0.31 rare-earth share of NdFeB
    assert ev["segments"]["bev"]["technologies"]["pmsm"]["magnet_kg_per_unit"]["central"] == pytest.approx(0.5 / 0.31, abs=0.02)
    comp = ev["compositions"]["ev_traction"]
    total = (np.array(comp["Nd"]["central"]) + np.array(comp["Pr"]["central"])
             + np.array(comp["Dy"]["central"]) + comp["Tb"]["central"])
    np.testing.assert_allclose(total, 0.31, atol=2e-4)  # 31 % rare earths in every vintage
    np.testing.assert_allclose(np.array(comp["Nd"]["central"]) / np.array(comp["Pr"]["central"]), 3.5, rtol=2e-3)
    phone = raw("smartphone")["segments"]["all"]["technologies"]["ndfeb"]["magnet_kg_per_unit"]
    assert phone["high"][0] == pytest.approx(190e-6 / 0.31, rel=0.01)  # Plymouth Nd+Pr / 0.31
    assert phone["central"][0] == pytest.approx((phone["low"][0] + phone["high"][0]) / 2)
    assert phone["high"][-1] == pytest.approx(2 * phone["central"][-1])  # from 2021: twice the central
    assert len(set(phone["central"])) == 1  # central held over vintages
    wind = raw("wind_turbine")
    comp = wind["compositions"]["wind_pmsg"]
    assert comp["Dy"]["low"] == pytest.approx(0.082 / 0.918 * 0.208, abs=1e-4)
    # JRC (Carrara et al. 2020) DD-PMSG: Nd 180, Pr 35, Dy 17, Tb 7 kg/MW in 239 / 0.31 kg NdFeB
    dd = wind["segments"]["onshore"]["technologies"]["dd_pmsg"]["magnet_kg_per_unit"]["central"]
    assert dd == pytest.approx(239 / 0.31, rel=2e-3)
    per_mw = {e: dd * comp[e]["central"] for e in ("Nd", "Pr", "Dy", "Tb")}
    assert per_mw == pytest.approx({"Nd": 180.0, "Pr": 35.0, "Dy": 17.0, "Tb": 7.0}, abs=0.5)
    ms = wind["segments"]["onshore"]["technologies"]["ms_pmsg"]["magnet_kg_per_unit"]["central"]
    assert ms * 0.31 == pytest.approx(62.0, abs=0.1)  # the JRC's geared PMSG, 62 kg/MW


def test_content_by_hand():
    profs = load_profiles(SHIPPED)
    phone = profs["smartphone"].content([2015])[0, :, 0]
    # 0.40 g magnet x (25.8 % Nd, 5.2 % Pr, 0.9 % Dy, 0 % Tb)
    np.testing.assert_allclose(phone, [0.4e-3 * 0.258, 0.4e-3 * 0.052, 0.4e-3 * 0.009, 0.0], rtol=1e-12)
    ev = profs["ev_traction_motor"]
    # Dy fraction interpolated between the 2010 (6 %) and 2018 (3.5 %) anchors
    i = ev.technologies.index(("bev", "pmsm"))
    dy_2014 = ev.element_fractions([2014])[i, ELEMENTS.index("Dy"), 0]
    assert dy_2014 == pytest.approx(0.06 + (0.035 - 0.06) * 4 / 8)
    # held constant outside the anchors
    assert ev.element_fractions([2060])[i, 2, 0] == pytest.approx(0.02)
    assert ev.element_fractions([1995])[i, 2, 0] == pytest.approx(0.06)


def test_wind_scope_cross_check_numbers_are_true():
    # the profile's scope text claims 239 (DD-PMSG) and 62 (geared PMSG) kg Nd+Pr+Dy+Tb per MW
    w = load_profiles(SHIPPED)["wind_turbine"]
    content = dict(zip(w.technologies, w.content([2021])[:, :, 0].sum(axis=1)))
    assert content[("offshore", "dd_pmsg")] == pytest.approx(239, abs=0.5)
    assert content[("onshore", "ms_pmsg")] == pytest.approx(62, abs=0.5)
    assert content[("onshore", "no_pm")] == 0.0


def test_summary_json_shape_and_average():
    w = load_profiles(SHIPPED)["wind_turbine"]
    info = w.summary(2030, {"onshore": 0.8, "offshore": 0.2})
    assert set(info) == {"product", "unit", "year", "technologies", "average_content_kg_per_unit", "segment_weights"}
    assert sum(t["share"] for t in info["technologies"].values()) == pytest.approx(1.0)
    avg_nd = sum(t["share"] * t["content_kg_per_unit"]["Nd"] for t in info["technologies"].values())
    assert info["average_content_kg_per_unit"]["Nd"] == pytest.approx(avg_nd)
    # 2030, default mix: onshore 15.2 % DD x 770 + 5.8 % MS x 200 kg/MW; offshore 60 % x 770 + 35 % x 200
    magnet = 0.8 * (0.152 * 770 + 0.058 * 200) + 0.2 * (0.60 * 770 + 0.35 * 200)
    assert info["average_content_kg_per_unit"]["Nd"] == pytest.approx(magnet * 0.2338)


FAILURES = {
    "shares_not_summing": "shares in 2020 sum to 1.1, expected 1",
    "percent_not_fraction": "looks like a percentage",
    "unknown_element": "unknown element",
    "missing_source": "has no source and no assumption",
    "unknown_reference": "unknown reference 'NOPE2001'",
    "malformed_toml": "malformed TOML",
    "negative_magnet_mass": "expected a value >= 0",
    "low_above_central": "expected low <= central",
    "unknown_lifetime_family": "'gamma', expected one of",
    "wrong_schema_version": "[schema_version] = 2, expected 1",
    "unknown_composition": "'grd', expected one of the [compositions]",
    "misspelt_key": "[end_of_life.routes] unknown key",
    "bare_number": "a bare number has no source",
    "year_list_length": "has 3 values for 2 years",
    "scenario_choice_in_profile": "[end_of_life.liberation] is a scenario choice",
}


@pytest.mark.parametrize(("case", "fragment"), sorted(FAILURES.items()))
def test_invalid_profile_fixtures(case, fragment):
    d = FIXTURES / case
    with pytest.raises(ProfileError) as err:
        load_profile(d / "gadget.toml")
    assert fragment in str(err.value)
    assert "gadget.toml" in str(err.value)
    files, problems = validate_directory(d)
    assert any(fragment in p for p in problems)


def test_valid_fixture_and_every_problem_listed():
    assert validate_directory(FIXTURES / "valid")[1] == []
    problems = validate_directory(FIXTURES / "two_problems")[1]
    assert len(problems) == 2
    res = CliRunner().invoke(main, ["profiles", "validate", str(FIXTURES / "two_problems")])
    assert res.exit_code == 1
    assert "looks like a percentage" in res.output and "sum to 1.1" in res.output
    assert "2 problems in 1 file" in res.output
    res = CliRunner().invoke(main, ["profiles", "validate", str(FIXTURES / "valid")])
    assert res.exit_code == 0 and "1 profile valid" in res.output


def test_cli_list_and_show():
    r = CliRunner()
    res = r.invoke(main, ["profiles", "list"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.output.splitlines()] == sorted(PRODUCTS)
    res = r.invoke(main, ["profiles", "show", "smartphone", "--year", "2020", "--json"])
    assert res.exit_code == 0
    info = json.loads(res.output)
    assert info["product"] == "smartphone" and info["unit"] == "device" and info["year"] == 2020
    assert info["technologies"]["ndfeb"]["share"] == 1.0
    assert info["average_content_kg_per_unit"]["Nd"] == pytest.approx(0.4e-3 * 0.258)
    res = r.invoke(main, ["profiles", "show", "ev_traction_motor", "--json", "--region", "EU27"])
    info = json.loads(res.output)
    assert sum(info["segment_weights"].values()) == pytest.approx(1.0)
    assert sum(t["share"] for t in info["technologies"].values()) == pytest.approx(1.0)
    res = r.invoke(main, ["profiles", "show", "nope"])
    assert res.exit_code == 1 and "unknown product 'nope'" in res.output
    res = r.invoke(main, ["profiles", "list", "--profiles", str(FIXTURES / "two_problems")])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "Traceback" not in res.output
