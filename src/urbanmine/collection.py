r"""Collection-rate regression: calibrate on observed collection, save as JSON, project.

Model
-----
A fractional-response (logit-link) regression in the sense of Papke and Wooldridge (1996):

.. math:: E[y \mid x] = \operatorname{logistic}(x^\top \beta)

with observed collection rates :math:`y \in [0, 1]` (fractions) and features

* ``intercept``;
* ``log_gdp_per_capita``: :math:`\ln(\text{GDP per capita, PPP} / 10\,000)` [ln(int$/person)];
* ``policy``: :math:`1 - e^{-\max(t - t_{law}, 0)/\tau}`, the matured share of a take-back
  law's effect :math:`t - t_{law}` years after it took effect (0 without a law) [1]; the time
  constant :math:`\tau` [yr] is chosen by leave-one-region-out cross-validation;
* ``small_electronics`` and ``vehicles``: product-category indicators; the baseline is all WEEE.

:math:`\beta` maximises the Bernoulli quasi-likelihood
:math:`\sum_i w_i [y_i \ln p_i + (1 - y_i) \ln(1 - p_i)]`, fitted with scikit-learn's
``LogisticRegression`` (no penalty) on each observation entered twice, as a success with weight
:math:`w_i y_i` and as a failure with weight :math:`w_i (1 - y_i)`: the same estimating
equations, so rates of exactly 0 or 1 are usable. Standard errors are cluster-robust by region
(sandwich). Regions differ beyond their features: the standard deviation of region-mean logit
residuals, ``region_effect_sd``, is added to projections as a region-level random effect.

The fitted model is stored as JSON (coefficients, covariance, feature definitions, training-data
SHA-256, cross-validation scores, library versions). Loading it needs only numpy and ``json``
and never executes code. scikit-learn is imported only by :func:`fit`.

References
----------
.. [1] L. E. Papke and J. M. Wooldridge, "Econometric methods for fractional response variables
   with an application to 401(k) plan participation rates," J. Appl. Econometrics, vol. 11,
   no. 6, pp. 619-632, 1996.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .defaults import default_dir
from .errors import CalibrationError, DimensionMismatchError, InputDataError

__all__ = [
    "CATEGORIES",
    "FEATURES",
    "CollectionModel",
    "load_observations",
    "load_training_tables",
    "fit",
    "load_model",
    "project",
]

CATEGORIES = ("weee_all", "small_electronics", "vehicles")
FEATURES = ("intercept", "log_gdp_per_capita", "policy", "small_electronics", "vehicles")
GDP_REFERENCE = 10_000.0
TAU_GRID = (1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0)
MODEL_FORMAT = "urbanmine.collection_rate"
MODEL_VERSION = 1
VEHICLE_PRIOR_SD = 0.5
"""Extra standard deviation [logit] on the ``vehicles`` coefficient, which rests on a single
observation (EU27 2021) whose own uncertainty cannot be estimated from the data: the EU
assessments range from 56 to 66 % documented treatment (about ±0.2 in logit), doubled for
transfer to other regions (assumption)."""

FEATURE_DEFINITIONS = {
    "intercept": ("1", "constant"),
    "log_gdp_per_capita": ("ln(int$/person)", "ln(GDP per capita, PPP, constant 2021 int$ / 10,000)"),
    "policy": ("1", "1 - exp(-max(year - law_year, 0) / tau); 0 where no take-back law covers the category"),
    "small_electronics": ("1", "1 for small electronics (IT and telecom equipment incl. phones), else 0"),
    "vehicles": ("1", "1 for end-of-life vehicles, else 0"),
}


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def design_matrix(gdp, year, law_year, category, tau: float) -> np.ndarray:
    """Feature matrix ``[n, 5]`` in the order of :data:`FEATURES`.

    ``law_year`` is NaN where no law covers the category. Arrays broadcast together.
    """
    gdp, year, law_year = (np.asarray(a, dtype=float) for a in (gdp, year, law_year))
    category = np.asarray(category)
    bad = ~np.isin(category, CATEGORIES)
    if np.any(bad):
        raise InputDataError(
            f"unknown collection category {category[bad].flat[0]!r}; expected one of {', '.join(CATEGORIES)}"
        )
    if np.any(gdp <= 0) or np.any(~np.isfinite(gdp)):
        raise InputDataError("GDP per capita must be positive and finite")
    since = np.where(np.isnan(law_year), 0.0, np.maximum(year - np.nan_to_num(law_year), 0.0))
    policy = np.where(np.isnan(law_year), 0.0, 1.0 - np.exp(-since / tau))
    shape = np.broadcast_shapes(gdp.shape, year.shape, law_year.shape, category.shape)
    cols = [
        np.ones(shape),
        np.broadcast_to(np.log(gdp / GDP_REFERENCE), shape),
        np.broadcast_to(policy, shape),
        np.broadcast_to(category == "small_electronics", shape).astype(float),
        np.broadcast_to(category == "vehicles", shape).astype(float),
    ]
    return np.stack(cols, axis=-1)


@dataclass
class CollectionModel:
    """A fitted collection-rate model (see the module docstring)."""

    coefficients: np.ndarray
    covariance: np.ndarray
    region_effect_sd: float
    tau: float
    metadata: dict = field(default_factory=dict)

    def predict(self, gdp, year, law_year, category) -> np.ndarray:
        """Central collection rate [1] for the given features."""
        return _logistic(design_matrix(gdp, year, law_year, category, self.tau) @ self.coefficients)

    def rates(self, x: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Collection rates [1] for regions and years, central or for Monte Carlo draws.

        This is the one sampler of the model's uncertainty: the estimate draws ``z`` up front
        (so that results do not depend on how samples are chunked) and passes it here.

        Parameters
        ----------
        x : ndarray ``[region, year, feature]``
            Design matrix from :func:`design_matrix` / :func:`projection_features`.
        z : ndarray ``[sample, feature + region]``, optional
            Independent standard normal draws: the first ``len(FEATURES)`` columns move the
            coefficients along their covariance (``beta = coef + L z``, ``L L' = covariance``),
            the rest give each region its random effect ``u = region_effect_sd * z``.
            ``None`` gives the central rates.

        Returns
        -------
        ndarray ``[sample, region, year]`` (one sample when ``z`` is None) [1]
        """
        if z is None:
            return _logistic(x @ self.coefficients)[None]
        n_f = len(self.coefficients)
        if z.ndim != 2 or z.shape[1] != n_f + x.shape[0]:
            raise DimensionMismatchError(
                f"z has shape {z.shape}, expected (samples, {n_f + x.shape[0]}): one column per "
                f"feature and one per region"
            )
        chol = np.linalg.cholesky(self.covariance + 1e-12 * np.eye(n_f))
        beta = self.coefficients[None, :] + z[:, :n_f] @ chol.T  # [S, F]
        u = z[:, n_f:] * self.region_effect_sd  # [S, R]
        return _logistic(np.einsum("rtf,sf->srt", x, beta) + u[:, :, None])

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_VERSION,
            "link": "logit",
            "features": [
                {"name": f, "unit": FEATURE_DEFINITIONS[f][0], "definition": FEATURE_DEFINITIONS[f][1]}
                for f in FEATURES
            ],
            "gdp_reference_int_dollar": GDP_REFERENCE,
            "tau_yr": self.tau,
            "coefficients": dict(zip(FEATURES, map(float, self.coefficients))),
            "covariance": [[float(v) for v in row] for row in self.covariance],
            "region_effect_sd": float(self.region_effect_sd),
        }
        out.update(self.metadata)
        return out

    @classmethod
    def from_dict(cls, d: dict, where: str = "model") -> CollectionModel:
        if d.get("format") != MODEL_FORMAT:
            raise CalibrationError(f"{where}: not an urbanmine collection-rate model (format = {d.get('format')!r})")
        if d.get("format_version") != MODEL_VERSION:
            raise CalibrationError(
                f"{where}: format_version = {d.get('format_version')!r}, expected {MODEL_VERSION}"
            )
        try:
            names = [f["name"] for f in d["features"]]
            if tuple(names) != FEATURES:
                raise CalibrationError(f"{where}: features {names} differ from {list(FEATURES)}")
            coef = np.array([float(d["coefficients"][f]) for f in FEATURES])
            cov = np.array(d["covariance"], dtype=float)
            sd = float(d["region_effect_sd"])
            tau = float(d["tau_yr"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{where}: malformed model ({exc.__class__.__name__}: {exc})") from None
        if cov.shape != (len(FEATURES),) * 2 or not np.all(np.isfinite(cov)) or not np.all(np.isfinite(coef)):
            raise CalibrationError(f"{where}: covariance must be a finite {len(FEATURES)}x{len(FEATURES)} matrix")
        meta = {k: v for k, v in d.items() if k not in {
            "format", "format_version", "link", "features", "gdp_reference_int_dollar", "tau_yr",
            "coefficients", "covariance", "region_effect_sd"}}
        return cls(coef, cov, sd, tau, meta)

    def save(self, path, overwrite: bool = False) -> None:
        from .io import atomic_write

        with atomic_write(path, overwrite) as fh:
            json.dump(self.to_dict(), fh, indent=2)
            fh.write("\n")

    @property
    def id(self) -> str:
        """Short identifier: the first 12 hex digits of the SHA-256 of the coefficients."""
        text = json.dumps([list(map(float, self.coefficients)), float(self.tau)])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_model(path=None) -> CollectionModel:
    """Load a model JSON (default: the shipped ``models/collection_rate.json``).

    The file is parsed as JSON text and nothing else: a pickle or any other binary file is
    rejected without being interpreted, so loading a model never runs code.
    """
    path = Path(path) if path is not None else default_dir("models") / "collection_rate.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CalibrationError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise CalibrationError(f"{path}: is a directory, expected a model JSON file") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CalibrationError(
            f"{path}: binary content, not a JSON model (pickles are never loaded; expected the "
            "JSON written by 'urbanmine calibrate')"
        ) from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "expected the JSON written by 'urbanmine calibrate'"
        ) from None
    if not isinstance(d, dict):
        raise CalibrationError(f"{path}: expected a JSON object")
    return CollectionModel.from_dict(d, str(path))


# -- training data ------------------------------------------------------------------------------


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


OBSERVATION_COLUMNS = ("region", "year", "category", "rate", "unit", "weight", "use")


def load_observations(path):
    """Read and check an observations CSV (``region,year,category,rate,unit,weight,use,...``).

    Rates are fractions within [0, 1]; a file whose rates look like percentages is rejected.
    """
    import pandas as pd

    from .io import read_table

    path = Path(path)
    df = read_table(path, OBSERVATION_COLUMNS)
    for col in ("year", "rate", "weight", "use"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputDataError(f"{path}, line {i + 2}: {col} = {df[col].iloc[i]!r}, expected a number")
        df[col] = vals
    units = set(df["unit"].astype(str))
    if units - {"1"}:
        raise InputDataError(f"{path}: unit = {sorted(units - {'1'})[0]!r}, expected '1' (rates as fractions 0-1)")
    used = df[df["use"] == 1]
    if used.empty:
        raise InputDataError(f"{path}: no observation has use = 1")
    if (used["rate"] > 1).any():
        i = int(np.argmax((df["rate"] > 1).to_numpy() & (df["use"] == 1).to_numpy()))
        hint = " (looks like a percentage: rates must be fractions 0-1)" if (used["rate"] > 1).mean() > 0.5 else ""
        raise InputDataError(f"{path}, line {i + 2}: rate = {df['rate'].iloc[i]:g}, expected a fraction within [0, 1]{hint}")
    if (df["rate"] < 0).any() or (df["weight"] < 0).any():
        i = int(np.argmax(((df["rate"] < 0) | (df["weight"] < 0)).to_numpy()))
        raise InputDataError(f"{path}, line {i + 2}: negative rate or weight, expected values >= 0")
    bad_cat = ~df["category"].isin(CATEGORIES)
    if (bad_cat & (df["use"] == 1)).any():
        i = int(np.argmax((bad_cat & (df["use"] == 1)).to_numpy()))
        raise InputDataError(f"{path}, line {i + 2}: category = {df['category'].iloc[i]!r}, expected one of {', '.join(CATEGORIES)}")
    return df


def load_training_tables(data=None):
    """GDP per capita (``regressors.csv``) and law years (``policy_years.csv``) of a data dir."""
    import pandas as pd

    d = Path(data) if data is not None else default_dir("data")
    out = []
    for name, cols in (("regressors.csv", ("region", "year", "gdp_per_capita_ppp")),
                       ("policy_years.csv", ("region", "category", "year"))):
        p = d / name
        if not p.exists():
            raise InputDataError(f"{p}: file not found")
        df = pd.read_csv(p)
        miss = [c for c in cols if c not in df.columns]
        if miss:
            raise InputDataError(f"{p}: column '{miss[0]}' is missing")
        out.append(df)
    return out[0], out[1]


def _features_for(obs, gdp_table, policy_table):
    gdp = obs.merge(gdp_table[["region", "year", "gdp_per_capita_ppp"]], on=["region", "year"], how="left")
    missing = gdp["gdp_per_capita_ppp"].isna()
    if missing.any():
        r = gdp[missing].iloc[0]
        raise InputDataError(f"no GDP per capita for region {r.region} in {int(r.year)} (regressors.csv)")
    pol = policy_table.rename(columns={"year": "law_year"})[["region", "category", "law_year"]]
    merged = gdp.merge(pol, on=["region", "category"], how="left")
    no_policy = ~merged.set_index(["region", "category"]).index.isin(pol.set_index(["region", "category"]).index)
    if no_policy.any():
        r = merged[no_policy].iloc[0]
        raise InputDataError(
            f"no policy entry for region {r.region}, category {r.category} (policy_years.csv; leave "
            "'year' empty for 'no law')"
        )
    return merged


# -- fitting ------------------------------------------------------------------------------------


def fit_arrays(x, y, w) -> np.ndarray:
    """Fractional-logit coefficients for design ``x [n, k]``, rates ``y`` and weights ``w``."""
    return _fit_beta(np.asarray(x, float), np.asarray(y, float), np.asarray(w, float))


def _fit_beta(x, y, w):
    from sklearn.linear_model import LogisticRegression

    xd = np.vstack([x, x])
    yd = np.r_[np.ones(len(y)), np.zeros(len(y))]
    wd = np.r_[w * y, w * (1.0 - y)]
    keep = wd > 0
    clf = LogisticRegression(fit_intercept=False, solver="lbfgs", max_iter=10_000, tol=1e-12, C=np.inf)
    clf.fit(xd[keep], yd[keep], sample_weight=wd[keep])
    return clf.coef_[0]


def _cluster_robust_cov(x, y, w, beta, groups):
    p = _logistic(x @ beta)
    a = (x * (w * p * (1 - p))[:, None]).T @ x
    a_inv = np.linalg.pinv(a)
    scores = x * (w * (y - p))[:, None]
    uniq, inv = np.unique(groups, return_inverse=True)
    g = np.zeros((uniq.size, x.shape[1]))
    np.add.at(g, inv, scores)
    b = g.T @ g * (uniq.size / max(uniq.size - 1, 1))
    return a_inv @ b @ a_inv


def _region_effect_sd(x, y, beta, groups):
    from scipy.special import logit

    eps = 1e-3
    resid = logit(np.clip(y, eps, 1 - eps)) - x @ beta
    uniq, inv = np.unique(groups, return_inverse=True)
    means = np.bincount(inv, resid) / np.bincount(inv)
    return float(np.std(means, ddof=1)) if uniq.size > 1 else 0.0


def _scores(y_true, y_pred):
    err = y_pred - y_true
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return {"mae_pp": float(np.mean(np.abs(err)) * 100), "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
            "n": int(y_true.size)}


def _cross_validate(x, y, w, groups, seed=0, k=5):
    rng = np.random.default_rng(seed)
    folds = rng.permutation(np.arange(y.size) % k)
    pred_k = np.empty_like(y)
    for f in range(k):
        test = folds == f
        pred_k[test] = _logistic(x[test] @ _fit_beta(x[~test], y[~test], w[~test]))
    pred_r = np.full_like(y, np.nan)
    for g in np.unique(groups):
        test = groups == g
        train = ~test
        # a held-out region whose category is absent from training cannot be predicted
        cols_present = np.any(x[train] != 0, axis=0)
        if not np.all(cols_present | ~np.any(x[test] != 0, axis=0)):
            continue
        pred_r[test] = _logistic(x[test] @ _fit_beta(x[train], y[train], w[train]))
    ok = ~np.isnan(pred_r)
    loro = _scores(y[ok], pred_r[ok])
    loro["regions_not_predictable"] = sorted(set(groups[~ok].tolist()))
    return {"kfold": {**_scores(y, pred_k), "k": k, "seed": seed}, "leave_one_region_out": loro}


def fit(observations=None, data=None, *, tau: float | None = None, seed: int = 0) -> CollectionModel:
    """Calibrate the model on the observations with ``use == 1``.

    Parameters
    ----------
    observations : path-like, optional
        Observations CSV (default: the data directory's ``collection_observations.csv``).
    data : path-like, optional
        Directory with ``regressors.csv`` and ``policy_years.csv`` (default: shipped data).
    tau : float, optional
        Time constant of the policy feature [yr]; default: chosen from :data:`TAU_GRID` by the
        lowest leave-one-region-out mean absolute error.
    seed : int
        Seed of the k-fold split.
    """
    import scipy
    import sklearn

    data_dir = Path(data) if data is not None else default_dir("data")
    obs_path = Path(observations) if observations is not None else data_dir / "collection_observations.csv"
    obs = load_observations(obs_path)
    gdp_table, policy_table = load_training_tables(data_dir)
    used = obs[obs["use"] == 1].reset_index(drop=True)
    feats = _features_for(used, gdp_table, policy_table)
    y = feats["rate"].to_numpy(float)
    w = feats["weight"].to_numpy(float)
    groups = feats["region"].to_numpy(str)
    if len(np.unique(groups)) < 3:
        raise CalibrationError(f"{obs_path}: observations from {len(np.unique(groups))} regions; need at least 3")

    def xmat(t):
        return design_matrix(feats["gdp_per_capita_ppp"], feats["year"], feats["law_year"], feats["category"], t)

    present = np.any(xmat(5.0) != 0, axis=0)
    if not present.all():
        absent = [f for f, p in zip(FEATURES, present) if not p]
        raise CalibrationError(f"{obs_path}: no used observation informs {', '.join(absent)}")
    grid = TAU_GRID if tau is None else (float(tau),)
    selection = {}
    for t in grid:
        selection[t] = _cross_validate(xmat(t), y, w, groups, seed)
    best = min(grid, key=lambda t: selection[t]["leave_one_region_out"]["mae_pp"])
    x = xmat(best)
    beta = _fit_beta(x, y, w)
    cov = _cluster_robust_cov(x, y, w, beta, groups)
    cov[FEATURES.index("vehicles"), FEATURES.index("vehicles")] += VEHICLE_PRIOR_SD**2
    cov = 0.5 * (cov + cov.T)
    sd = _region_effect_sd(x, y, beta, groups)
    fitted = _scores(y, _logistic(x @ beta))
    excluded = obs[obs["use"] != 1]
    reasons = excluded.groupby(excluded.get("exclusion_reason", "").fillna("")).size().to_dict() if len(excluded) else {}
    meta = {
        "covariance_method": (
            "cluster-robust sandwich by region (Papke-Wooldridge), plus a prior variance of "
            f"{VEHICLE_PRIOR_SD}^2 on 'vehicles' (one observation)"
        ),
        "prior_variance": {"vehicles": VEHICLE_PRIOR_SD**2},
        "tau_selection": {
            "grid_yr": list(grid),
            "loro_mae_pp": {str(t): selection[t]["leave_one_region_out"]["mae_pp"] for t in grid},
        },
        "training_data": {
            "observations": obs_path.name,
            "sha256": {
                obs_path.name: sha256_file(obs_path),
                "regressors.csv": sha256_file(data_dir / "regressors.csv"),
                "policy_years.csv": sha256_file(data_dir / "policy_years.csv"),
            },
            "n_used": int(len(used)),
            "n_regions": int(len(np.unique(groups))),
            "n_by_category": {c: int((used["category"] == c).sum()) for c in CATEGORIES},
            "n_excluded_by_reason": {str(k): int(v) for k, v in reasons.items()},
        },
        "fit": {"in_sample": fitted},
        "cross_validation": selection[best],
        "product_categories": {"smartphone": "small_electronics", "ev_traction_motor": "vehicles"},
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "created": _dt.date.today().isoformat(),
    }
    return CollectionModel(beta, cov, sd, best, meta)


# -- projection ---------------------------------------------------------------------------------


def project(model: CollectionModel, regions, years, category: str, data=None) -> np.ndarray:
    """Central collection rate ``[region, year]`` [1] from the data's GDP and law years."""
    x = projection_features(model, regions, years, category, data)
    return _logistic(x @ model.coefficients)


def projection_features(model: CollectionModel, regions, years, category: str, data=None) -> np.ndarray:
    """Design matrix ``[region, year, feature]`` for projections."""
    gdp_table, policy_table = load_training_tables(data)
    years = np.asarray(years)
    gdp = np.empty((len(regions), years.size))
    law = np.full(len(regions), np.nan)
    for i, r in enumerate(regions):
        s = gdp_table[gdp_table["region"] == r].set_index("year")["gdp_per_capita_ppp"]
        missing = sorted(set(years.tolist()) - set(s.index))
        if missing:
            raise InputDataError(f"no GDP per capita for region {r} in {missing[0]} (regressors.csv)")
        gdp[i] = s.reindex(years).to_numpy()
        p = policy_table[(policy_table["region"] == r) & (policy_table["category"] == category)]
        if p.empty:
            raise InputDataError(f"no policy entry for region {r}, category {category} (policy_years.csv)")
        law[i] = p["year"].iloc[0]
    cat = np.full(gdp.shape, category)
    return design_matrix(gdp, years[None, :], law[:, None], cat, model.tau)


def model_card(model: CollectionModel, regions, data=None) -> str:
    """A short Markdown model card: data, method, scores, projections, known limits.

    Projections are shown for those of ``regions`` that the data's regressors cover.
    """
    gdp_table, _ = load_training_tables(data)
    regions = [r for r in regions if r in set(gdp_table["region"])]
    m = model.to_dict()
    td, cv = m["training_data"], m["cross_validation"]
    se = np.sqrt(np.diag(model.covariance))
    lines = [
        "# Model card: collection-rate regression (`collection_rate.json`)",
        "",
        "Written by `urbanmine calibrate`; the numbers below are those of the JSON beside it.",
        "",
        "## Data",
        f"- {td['n_used']} observed collection rates from {td['n_regions']} regions "
        f"({', '.join(f'{c}: {n}' for c, n in td['n_by_category'].items())}), file "
        f"`{td['observations']}` (SHA-256 `{td['sha256'][td['observations']][:16]}...`).",
        "- All WEEE: Eurostat env_waselee official collection rate (share of the average weight put "
        "on the market in the three preceding years), EU/EEA member states 2008-2018, and the EU27 "
        "aggregate 2020-2023 (Eurostat Statistics Explained).",
        "- Small electronics: IT and telecom equipment (WEEE category 3, incl. phones), collected "
        "tonnes over the mean put on the market in the three preceding years (derived; not an "
        "official indicator). The closest open proxy for phones; it probably overstates phone "
        "collection because phones are a small part of the category.",
        "- Vehicles: one observation, EU27 2021: 6.5 million end-of-life vehicles treated against "
        "about 4 million of unknown whereabouts, 62 % (derived from the Commission's answer on "
        "the ELV Directive evaluation).",
        "- Outside Europe: one city case study for India (Ahmedabad, 5-15 % of e-waste through "
        "formal channels under the 2011 Rules; midpoint 10 %, year 2015 assumed), used as India's "
        "all-WEEE rate.",
        "- Weights: each region's observations share a total weight of 1.",
        "- Excluded: " + "; ".join(f"{n} x {r.rstrip('.')}" for r, n in td["n_excluded_by_reason"].items()) + ".",
        "- Regressors: World Bank GDP per capita (PPP); years since the take-back law covering the "
        "category took effect (`data/policy_years.csv`, sources there).",
        "",
        "## Method",
        "Fractional logit (Papke & Wooldridge 1996), fitted with scikit-learn's LogisticRegression "
        f"on duplicated rows with weights; policy time constant tau = {model.tau:g} yr chosen by "
        "leave-one-region-out CV from " + ", ".join(f"{t:g}" for t in m["tau_selection"]["grid_yr"])
        + " yr" + (" (the largest value of the grid: the data hardly distinguish a slowly maturing "
                   "policy effect from a time trend, and the grid's cap limits how far it is extrapolated)"
                   if model.tau == max(m["tau_selection"]["grid_yr"]) and len(m["tau_selection"]["grid_yr"]) > 1 else "")
        + ". Standard errors: " + m["covariance_method"] + ".",
        "",
        "| feature | coefficient | std. error |",
        "|---|---|---|",
        *[f"| {f} | {c:.4f} | {s:.4f} |" for f, c, s in zip(FEATURES, model.coefficients, se)],
        "",
        f"Region effect (sd of region-mean logit residuals): {model.region_effect_sd:.3f}.",
        "",
        "## Scores",
        f"- In sample: MAE {m['fit']['in_sample']['mae_pp']:.2f} percentage points, R² {m['fit']['in_sample']['r2']:.3f}.",
        f"- {cv['kfold']['k']}-fold CV: MAE {cv['kfold']['mae_pp']:.2f} pp, R² {cv['kfold']['r2']:.3f}.",
        f"- Leave one region out: MAE {cv['leave_one_region_out']['mae_pp']:.2f} pp, R² "
        f"{cv['leave_one_region_out']['r2']:.3f} (not predictable when held out: "
        f"{', '.join(cv['leave_one_region_out']['regions_not_predictable']) or 'none'}).",
        "",
        "## Projected central rates (stated GDP path)",
        "",
        "| region | category | 2000 | 2020 | 2030 | 2050 |",
        "|---|---|---|---|---|---|",
    ]
    span = set(gdp_table["year"])
    milestones = [y for y in (2000, 2020, 2030, 2050) if y in span]
    for cat in ("small_electronics", "vehicles") if regions and len(milestones) == 4 else ():
        rates = project(model, regions, milestones, cat, data)
        for r, row in zip(regions, rates):
            lines.append(f"| {r} | {cat} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    lines += [
        "",
        "## Known limits",
        "- Nearly all observations are European: rates for China, India, the USA and the rest of "
        "the world are extrapolations along GDP and policy, not fits to their own data, and the "
        "policy effect learnt from the EU is assumed to transfer. They are higher than the Global "
        "E-waste Monitor's documented rates (world 17-22 %, Asia about 12 %, Americas about 9 %), "
        "which are kept in the observations as a check, not fitted, because 'years since the law' "
        "is undefined for continents that mix countries with and without laws. Treat non-EU "
        "collection, and so non-EU recovered tonnes, as optimistic; country series (UN SDG "
        "12.5.1) would fix this.",
        "- The features explain little of the variation between EU countries (R² about 0.1-0.2): "
        "the region effect carries most of the uncertainty of a projection.",
        "- The vehicle offset rests on one EU observation of documented treatment, which measures "
        "where vehicle mass goes, not whether traction-motor magnets are recovered.",
        "- Collection of smartphones is approximated by IT and telecom equipment as a whole.",
        "- GDP projections are an assumed convergence path (data-raw/assumptions.toml), not a "
        "published scenario.",
        "- Wind turbines have no observed series: their collection rate is an assumption in the "
        "wind profile, not an output of this model.",
        "",
    ]
    return "\n".join(lines)
