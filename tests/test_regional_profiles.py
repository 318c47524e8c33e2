"""Regional variants in a profile: technology shares and lifetimes by country or grouping."""

import numpy as np
import pytest
from conftest import chain_scenario

from urbanmine.errors import ProfileError
from urbanmine.estimate import estimate
from urbanmine.profiles import load_profile, variant_index
from urbanmine.regions import load_regions

BASE = '''schema_version = 1
product = "gizmo"
name = "Gizmo"
unit = "device"
description = "test product"
elements = ["Nd", "Pr", "Dy", "Tb"]
[lifetime]
family = "fixed"
lifetime = {{ central = 2.0, assumption = "test" }}
{lifetime_extra}
[segments.all]
[segments.all.shares]
year = [2000]
central = {{ magnet = [0.5], none = [0.5] }}
assumption = "test"
{shares_extra}
[segments.all.technologies.magnet]
composition = "grade"
magnet_kg_per_unit = {{ central = 1.0, assumption = "test" }}
[segments.all.technologies.none]
composition = "grade"
magnet_kg_per_unit = {{ central = 0.0, assumption = "test" }}
[compositions.grade]
Nd = {{ central = 0.5, assumption = "test" }}
Pr = {{ central = 0.0, assumption = "test" }}
Dy = {{ central = 0.0, assumption = "test" }}
Tb = {{ central = 0.0, assumption = "test" }}
[end_of_life]
route = "test"
'''

CHN_ALL_MAGNET = '''[segments.all.shares.by_region.CHN]
year = [2000]
central = { magnet = [1.0], none = [0.0] }
assumption = "test: China all magnet"
'''
EU_LONGER = '''[lifetime.by_region.EU27]
lifetime = { central = 3.0, assumption = "test: EU three years" }
'''

SCENARIO = chain_scenario()


def _profile(tmp_path, shares_extra="", lifetime_extra=""):
    p = tmp_path / "gizmo.toml"
    p.write_text(BASE.format(shares_extra=shares_extra, lifetime_extra=lifetime_extra))
    return p


def _value(df, region, stage, year):
    row = df[(df.region == region) & (df.element == "Nd") & (df.stage == stage) & (df.year == year)
             & (df["product"] == "gizmo")]
    assert len(row) == 1
    return float(row.value.iloc[0])


def test_variants_parse_and_resolve(tmp_path):
    prof = load_profile(_profile(tmp_path, CHN_ALL_MAGNET, EU_LONGER))
    regions = load_regions()
    prof.check_regions(regions)
    assert prof.shares([2010], region="CHN", regions=regions)[:, 0].tolist() == [1.0, 0.0]
    assert prof.shares([2010], region="USA", regions=regions)[:, 0].tolist() == [0.5, 0.5]
    assert prof.shares([2010])[:, 0].tolist() == [0.5, 0.5]
    # a member of the EU27 takes the EU27's lifetime; the grouping itself too
    assert prof.lifetime_model(region="DEU", regions=regions).mean() == pytest.approx(3.0)
    assert prof.lifetime_model(region="EU27", regions=regions).mean() == pytest.approx(3.0)
    assert prof.lifetime_model(region="USA", regions=regions).mean() == pytest.approx(2.0)


def test_country_beats_grouping_and_smaller_grouping_beats_larger():
    regions = load_regions()
    idx = variant_index(["EUROPE", "EU27", "FRA"], regions, ["FRA", "DEU", "NOR", "USA"])
    assert idx.tolist() == [2, 1, 0, -1]


def test_unknown_region_is_an_error_naming_file_and_key(tmp_path):
    bad = CHN_ALL_MAGNET.replace("by_region.CHN", "by_region.CHINA")
    prof = load_profile(_profile(tmp_path, bad))
    with pytest.raises(ProfileError, match=r"gizmo.toml: \[segments.all.shares.by_region.CHINA\] unknown region 'CHINA'.*did you mean 'CHN'"):
        prof.check_regions(load_regions())


def test_regional_lifetime_must_keep_its_family(tmp_path):
    bad = '[lifetime.by_region.EU27]\nfamily = "weibull"\nlifetime = { central = 3.0, assumption = "x" }\n'
    with pytest.raises(ProfileError, match=r"\[lifetime.by_region.EU27.family\] = 'weibull', expected 'fixed'"):
        load_profile(_profile(tmp_path, lifetime_extra=bad))


def test_regional_shares_are_checked_like_the_default(tmp_path):
    bad = CHN_ALL_MAGNET.replace("none = [0.0]", "none = [0.2]")
    with pytest.raises(ProfileError, match=r"\[segments.all.shares.by_region.CHN.central\] shares in 2000 sum to 1.2, expected 1"):
        load_profile(_profile(tmp_path, bad))


def test_estimate_uses_each_countrys_variant_by_hand(tmp_path, gizmo_system):
    """10 devices a year in 2000 in CHN, DEU and USA, 1 kg magnet x 50 % Nd for the magnet
    technology: CHN (all magnet) 5 kg Nd, others 2.5 kg; CHN and USA out after 2 years, DEU
    (EU27 lifetime) after 3."""
    text = BASE.format(shares_extra=CHN_ALL_MAGNET, lifetime_extra=EU_LONGER)
    values = {(r, y): (10.0 if y == 2000 else 0.0) for r in ("CHN", "DEU", "USA") for y in range(2000, 2006)}
    prof, data = gizmo_system(text, values)
    (prof.parent / "tiny.toml").write_text(SCENARIO)
    df = estimate(["CHN", "DEU", "USA", "EU27", "WORLD"], scenario=str(prof.parent / "tiny.toml"),
                  profiles=prof, data=data)
    assert _value(df, "CHN", "sales", 2000) == pytest.approx(0.005)
    assert _value(df, "USA", "sales", 2000) == pytest.approx(0.0025)
    assert _value(df, "DEU", "sales", 2000) == pytest.approx(0.0025)
    assert _value(df, "CHN", "end_of_life", 2002) == pytest.approx(0.005)
    assert _value(df, "USA", "end_of_life", 2002) == pytest.approx(0.0025)
    assert _value(df, "DEU", "end_of_life", 2002) == 0.0
    assert _value(df, "DEU", "end_of_life", 2003) == pytest.approx(0.0025)
    assert _value(df, "EU27", "end_of_life", 2003) == pytest.approx(0.0025)
    assert _value(df, "WORLD", "end_of_life", 2002) == pytest.approx(0.0075)


def test_monte_carlo_with_variants_keeps_the_chain_ordered(tmp_path, gizmo_system):
    ranged = CHN_ALL_MAGNET + 'low = { magnet = [0.5], none = [0.5] }\n'
    life = '[lifetime.by_region.EU27]\nlifetime = { central = 3.0, low = 2.0, high = 5.0, assumption = "t" }\n'
    text = BASE.format(shares_extra=ranged, lifetime_extra=life)
    values = {(r, y): (10.0 if y == 2000 else 0.0) for r in ("CHN", "DEU") for y in range(2000, 2010)}
    prof, data = gizmo_system(text, values)
    (prof.parent / "tiny.toml").write_text(SCENARIO)
    df = estimate(["CHN", "DEU"], scenario=str(prof.parent / "tiny.toml"), samples=200, seed=1,
                  profiles=prof, data=data)
    chn = df[(df.region == "CHN") & (df.element == "Nd") & (df.stage == "sales") & (df.year == 2000)]
    # China's shares move between the low mix (0.5 magnet) and central (1.0): p05 below central
    assert float(chn.p05.iloc[0]) < 0.005 - 1e-6 and float(chn.p95.iloc[0]) == pytest.approx(0.005)
    deu = df[(df.region == "DEU") & (df.element == "Nd") & (df.stage == "end_of_life")].set_index("year")
    # total end of life over the horizon equals sales in every sample's summary (all leave by 2005)
    assert deu["mean"].sum() == pytest.approx(0.0025)
    assert np.all(deu["p95"] <= 0.0025 + 1e-12)


def test_cli_validate_checks_region_codes(tmp_path):
    from click.testing import CliRunner

    from urbanmine.cli import main

    good = tmp_path / "good"
    good.mkdir()
    (good / "gizmo.toml").write_text(BASE.format(shares_extra=CHN_ALL_MAGNET, lifetime_extra=""))
    r = CliRunner().invoke(main, ["profiles", "validate", str(good)])
    assert r.exit_code == 0, r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "gizmo.toml").write_text(BASE.format(shares_extra=CHN_ALL_MAGNET.replace(".CHN]", ".XYZ]"),
                                                lifetime_extra=""))
    r = CliRunner().invoke(main, ["profiles", "validate", str(bad)])
    assert r.exit_code == 1
    assert "[segments.all.shares.by_region.XYZ] unknown region 'XYZ'" in r.output
