"""Collection-rate regression: recovery of known coefficients, persistence, the shipped model."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.collection import (
    CATEGORIES,
    FEATURES,
    CollectionModel,
    design_matrix,
    fit,
    fit_arrays,
    load_model,
    project,
    projection_features,
)
from urbanmine.errors import CalibrationError, InputDataError

ROOT = Path(__file__).parents[1]


def _logistic(z):
    return 1 / (1 + np.exp(-z))


def test_recovers_known_coefficients_from_synthetic_fractions():
    rng = np.random.default_rng(7)
    n = 4000
    x = np.column_stack([np.ones(n), rng.normal(0, 1, n), rng.uniform(0, 1, n), rng.integers(0, 2, n)])
    beta = np.array([-0.8, 0.6, 1.5, -0.4])
    p = _logistic(x @ beta)
    y = rng.binomial(200, p) / 200  # observed fractions, some exactly 0 or 1 are allowed
    est = fit_arrays(x, y, np.ones(n))
    np.testing.assert_allclose(est, beta, atol=0.05)


def test_exact_zero_and_one_rates_are_usable():
    x = np.column_stack([np.ones(6), [0, 0, 1, 1, 2, 2]])
    y = np.array([0.0, 0.2, 0.4, 0.6, 0.9, 1.0])
    est = fit_arrays(x, y, np.ones(6))
    assert np.all(np.isfinite(est))


def test_weights_equal_repetition():
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(30), rng.normal(size=30)])
    y = rng.uniform(0.1, 0.9, 30)
    w = rng.integers(1, 4, 30).astype(float)
    rep = np.repeat(np.arange(30), w.astype(int))
    np.testing.assert_allclose(fit_arrays(x, y, w), fit_arrays(x[rep], y[rep], np.ones(rep.size)), atol=1e-6)


def _synthetic_data(tmp_path, beta, tau=4.0, n_regions=24, seed=0, effect_sd=0.5):
    """Observations drawn from a known model with country effects, and its regressor and policy
    tables; a third of the countries report rates over put-on-market (definition pom_3y)."""
    rng = np.random.default_rng(seed)
    regions = [f"R{i:02d}" for i in range(n_regions)]
    effects = dict(zip(regions, rng.normal(0, effect_sd, n_regions)))
    years = np.arange(2000, 2021)
    gdp_rows, pol_rows, obs_rows = [], [], []
    for i, r in enumerate(regions):
        gdp = 5000 * 1.03 ** (years - 2000) * (1 + i % 12)
        law = 2000 + (i % 6) * 3 if i % 4 else None
        definition = "pom_3y" if i % 3 == 0 else "generated"
        for y, g in zip(years, gdp):
            gdp_rows.append((r, y, g))
        for cat in CATEGORIES:
            pol_rows.append((r, cat, law if law is not None else ""))
            for y, g in zip(years, gdp):
                if cat in ("vehicles", "mobile_phones") and y % 5:
                    continue
                x = design_matrix(g, y, np.nan if law is None else law, cat, tau, definition)
                p = _logistic(x @ beta + effects[r])
                obs_rows.append((r, y, cat, rng.binomial(500, p) / 500, "1", 1.0, 1, definition))
    pd.DataFrame(gdp_rows, columns=["region", "year", "gdp_per_capita_ppp"]).to_csv(tmp_path / "regressors.csv", index=False)
    pd.DataFrame(pol_rows, columns=["region", "category", "year"]).to_csv(tmp_path / "policy_years.csv", index=False)
    obs = pd.DataFrame(obs_rows, columns=["region", "year", "category", "rate", "unit", "weight", "use", "definition"])
    obs.to_csv(tmp_path / "collection_observations.csv", index=False)
    return obs, effects


def test_fit_recovers_a_known_model_through_files(tmp_path):
    beta = np.array([-1.0, 0.5, 1.2, 0.4, -1.5, -0.3, 0.3])
    _, effects = _synthetic_data(tmp_path, beta, tau=4.0)
    m = fit(data=tmp_path, tau=4.0)
    # the coefficients come back within their standard errors (the country effects add noise
    # that the cluster-robust errors account for)
    se = np.sqrt(np.diag(m.covariance))
    assert np.all(np.abs(m.coefficients - beta) < 3 * se + 0.05)
    assert m.tau == 4.0
    # the country effects (partial pooling) track the true ones, shrunk and centred
    true = np.array([effects[r] for r in sorted(effects)])
    est = np.array([m.country_effects[r][0] for r in sorted(effects)])
    assert np.corrcoef(true, est)[0, 1] > 0.9
    assert m.region_effect_sd == pytest.approx(0.5, rel=0.4)
    cv = m.metadata["cross_validation"]
    assert cv["kfold"]["mae_pp"] < 12 and cv["leave_one_country_out"]["r2"] > 0.5


def test_save_load_gives_identical_predictions(tmp_path):
    m = load_model()
    m.save(tmp_path / "m.json")
    m2 = load_model(tmp_path / "m.json")
    x = design_matrix([3000, 50000], [2010, 2040], [np.nan, 2005], ["vehicles", "mobile_phones"], m.tau)
    np.testing.assert_array_equal(_logistic(x @ m.coefficients), _logistic(x @ m2.coefficients))
    np.testing.assert_array_equal(m.covariance, m2.covariance)
    with pytest.raises(Exception, match="won't be overwritten"):
        m.save(tmp_path / "m.json")


def test_sampled_rates_follow_the_fitted_uncertainty():
    """The estimate's sampler: z = 0 gives the central rates, and over many draws the linear
    predictor has mean x'beta + u and variance x' Sigma x + sd_u^2, where an observed country has
    its own effect u and posterior sd and an unobserved one 0 and the between-country sd."""
    m = load_model()
    codes = ["DEU", "ZZZ"]  # an observed country, and one the model has never seen
    x = projection_features(m, ["DEU", "IND"], [2010, 2040], "mobile_phones")  # [R, T, F]
    effects = m.effects(codes)
    assert effects[0][1] == 0.0 and effects[1][1] == m.region_effect_sd
    assert codes[0] in m.country_effects and effects[0][0] == m.country_effects["DEU"][0]
    n_f, n_r = len(FEATURES), 2
    central = m.rates(x, effects=effects)[0]
    np.testing.assert_allclose(m.rates(x, np.zeros((1, n_f + n_r)), effects)[0], central, rtol=1e-12)
    n = 200_000
    z = np.random.default_rng(42).standard_normal((n, n_f + n_r))
    r = m.rates(x, z, effects)
    lin = np.log(r / (1 - r))  # back to the logit scale, [S, R, T]
    mean_expected = x @ m.coefficients + effects[0][:, None]
    var_expected = np.einsum("rtf,fg,rtg->rt", x, m.covariance, x) + effects[1][:, None] ** 2
    se_mean = np.sqrt(var_expected / n)
    assert np.all(np.abs(lin.mean(axis=0) - mean_expected) < 5 * se_mean)
    # the sample variance of n normal draws has relative standard error sqrt(2 / n) = 0.3 %
    np.testing.assert_allclose(lin.var(axis=0), var_expected, rtol=5 * np.sqrt(2 / n))
    # countries get independent effects: they correlate only through beta
    cov_between = np.cov(lin[:, 0, 1], lin[:, 1, 1])[0, 1]
    expected_between = x[0, 1] @ m.covariance @ x[1, 1]
    assert abs(cov_between - expected_between) < 0.02 * var_expected.max()


def test_shipped_model_is_what_calibrate_produces():
    shipped = json.loads((ROOT / "models" / "collection_rate.json").read_text())
    refit = fit().to_dict()
    for key in ("coefficients", "tau_yr", "region_effect_sd", "cross_validation", "training_data"):
        a, b = shipped[key], refit[key]
        if key == "coefficients":
            for f in FEATURES:
                assert a[f] == pytest.approx(b[f], abs=1e-6), f
        elif isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-6)
        else:
            assert json.loads(json.dumps(a), parse_float=lambda s: round(float(s), 6)) == \
                json.loads(json.dumps(b), parse_float=lambda s: round(float(s), 6))
    np.testing.assert_allclose(shipped["covariance"], refit["covariance"], atol=1e-8)


def test_shipped_model_metadata():
    d = json.loads((ROOT / "models" / "collection_rate.json").read_text())
    assert d["link"] == "logit" and [f["name"] for f in d["features"]] == list(FEATURES)
    assert all(len(h) == 64 for h in d["training_data"]["sha256"].values())
    assert {"numpy", "scipy", "scikit-learn"} <= set(d["versions"])
    assert d["training_data"]["n_by_category"]["vehicles"] == 1
    assert d["training_data"]["n_by_category"]["mobile_phones"] == 2
    # observations from every continent, not only Europe
    assert set(d["training_data"]["n_by_continent"]) >= {"AFRICA", "ASIA", "EUROPE", "LATIN_AMERICA_CARIBBEAN",
                                                       "NORTHERN_AMERICA", "OCEANIA"}
    assert (ROOT / "models" / "collection_rate.md").exists()


def test_projection_shape_and_policy_effect():
    m = load_model()
    regs = ["EU27", "USA"]
    r = project(m, regs, [2000, 2030], "weee_all")
    assert r.shape == (2, 2) and np.all((r > 0) & (r < 1))
    assert r[0, 1] > r[0, 0]  # the EU's law matures
    # with the same GDP, a region with a law collects more than one without (policy coef > 0)
    assert m.coefficients[FEATURES.index("policy")] > 0


def test_loading_rejects_bad_model_files(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(CalibrationError, match="not valid JSON"):
        load_model(p)
    p.write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(CalibrationError, match="not an urbanmine collection-rate model"):
        load_model(p)
    d = json.loads((ROOT / "models" / "collection_rate.json").read_text())
    del d["coefficients"]["policy"]
    p.write_text(json.dumps(d))
    with pytest.raises(CalibrationError, match="malformed model"):
        load_model(p)
    with pytest.raises(CalibrationError, match="model file not found"):
        load_model(tmp_path / "none.json")
    assert isinstance(load_model(), CollectionModel)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "malformed CSV"),
        ("region,year,category,rate,unit,weight,use\n", "no data rows below the header"),
        ("region,year,category,rate,unit,weight,use\nAT,2010,weee_all,45.0,1,1,1\nDE,2010,weee_all,40.0,1,1,1\n",
         "looks like a percentage"),
        ("region,year,category,rate,unit,weight,use\nAT,2010,weee_all,0.45,%,1,1\n", "unit = '%', expected '1'"),
        ("region,year,category,rate,unit,weight,use\nAT,2010,cars,0.45,1,1,1\n", "category = 'cars'"),
        ("region,year,category,rate,unit,weight\nAT,2010,weee_all,0.45,1,1\n", "column 'use' is missing"),
        ("region,year,category,rate,unit,weight,use\nAT,x,weee_all,0.45,1,1,1\n", "year = 'x', expected a number"),
    ],
)
def test_bad_observation_files(tmp_path, content, fragment):
    p = tmp_path / "obs.csv"
    p.write_text(content)
    with pytest.raises(InputDataError, match=fragment):
        fit(p)
    out = tmp_path / "m.json"
    res = CliRunner().invoke(main, ["calibrate", "--observations", str(p), "--out", str(out)])
    assert res.exit_code == 1 and fragment in res.output and "Traceback" not in res.output
    assert not out.exists() and not out.with_suffix(".md").exists()


def test_calibrate_command_on_synthetic_data(tmp_path):
    _synthetic_data(tmp_path, np.array([-1.0, 0.5, 1.2, 0.4, -1.5, -0.3, 0.3]))
    out = tmp_path / "model.json"
    res = CliRunner().invoke(main, ["calibrate", "--data", str(tmp_path), "--out", str(out), "--tau", "4"])
    assert res.exit_code == 0, res.output
    assert "leave one country out: MAE" in res.output and "leave one continent out: MAE" in res.output
    assert "policy" in res.output
    m = load_model(out)
    assert m.tau == 4.0
    assert out.with_suffix(".md").read_text().startswith("# Model card")
    res = CliRunner().invoke(main, ["calibrate", "--data", str(tmp_path), "--out", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.output
