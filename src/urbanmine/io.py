"""Reading small inputs and writing outputs safely.

Every reader names the file, the row or column and the value when something is wrong, and
raises :class:`~urbanmine.errors.InputDataError`. Every writer is atomic: it writes a temporary
file in the target directory and renames it, so a failed run leaves no partial output and an
existing file is never touched unless ``overwrite`` is given.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import InputDataError, OutputExistsError

__all__ = [
    "read_series_csv", "read_table", "check_writable", "atomic_write", "atomic_write_all",
    "format_float", "write_csv",
]


def _open_text(path: Path):
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputDataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputDataError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot be read ({exc.strerror})") from None


def read_series_csv(
    path, key: str = "year", value: str = "value", *, allow_negative: bool = False,
    consecutive: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column series such as ``year,value`` from a CSV file.

    Parameters
    ----------
    path : path-like
    key, value : str
        Required column names (other columns are ignored).
    allow_negative : bool
        Accept negative values.
    consecutive : bool
        Require the keys to be consecutive integers (no gaps) after sorting.

    Returns
    -------
    keys : ndarray of int, sorted
    values : ndarray of float, in the order of ``keys``

    Raises
    ------
    InputDataError
        Missing file or column, empty file, non-numeric or non-integer keys, duplicate keys,
        gaps, non-numeric, non-finite or negative values.
    """
    path = Path(path)
    with _open_text(path) as fh:
        try:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header:
                raise InputDataError(f"{path}: file is empty, expected a header '{key},{value}'")
            header = [h.strip() for h in header]
            reader.fieldnames = header
            for col in (key, value):
                if col not in header:
                    raise InputDataError(
                        f"{path}: column '{col}' is missing; found {', '.join(header)}, "
                        f"expected '{key},{value}'"
                    )
            keys, values = [], []
            for row in reader:
                line = reader.line_num
                raw_k, raw_v = (row.get(key) or "").strip(), (row.get(value) or "").strip()
                if not raw_k and not raw_v and not any((v or "").strip() for v in row.values()):
                    continue  # blank line
                try:
                    k_float = float(raw_k)
                except ValueError:
                    raise InputDataError(
                        f"{path}, line {line}: {key} = {raw_k!r} is not a number, "
                        f"expected an integer {key}"
                    ) from None
                if not math.isfinite(k_float) or k_float != int(k_float):
                    raise InputDataError(
                        f"{path}, line {line}: {key} = {raw_k!r}, expected an integer {key}"
                    )
                try:
                    v = float(raw_v)
                except ValueError:
                    raise InputDataError(
                        f"{path}, line {line}: {value} = {raw_v!r} is not a number"
                    ) from None
                if not math.isfinite(v):
                    raise InputDataError(f"{path}, line {line}: {value} = {raw_v!r} is not finite")
                if v < 0 and not allow_negative:
                    raise InputDataError(
                        f"{path}, line {line}: {value} = {raw_v}, expected a value >= 0"
                    )
                keys.append(int(k_float))
                values.append(v)
        except csv.Error as exc:
            raise InputDataError(f"{path}: malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise InputDataError(f"{path}: not a UTF-8 text file") from None
    if not keys:
        raise InputDataError(f"{path}: no data rows below the header")
    k = np.asarray(keys)
    order = np.argsort(k, kind="stable")
    k, v = k[order], np.asarray(values)[order]
    dup = k[1:][np.diff(k) == 0]
    if dup.size:
        raise InputDataError(f"{path}: {key} {dup[0]} appears more than once")
    if consecutive:
        gaps = np.nonzero(np.diff(k) != 1)[0]
        if gaps.size:
            a, b = k[gaps[0]], k[gaps[0] + 1]
            raise InputDataError(
                f"{path}: {key}s jump from {a} to {b}; expected consecutive {key}s "
                f"(missing {a + 1}{'' if b - a == 2 else f'-{b - 1}'})"
            )
    return k, v


def read_table(path, columns):
    """Read a CSV table as text columns, checking that ``columns`` are present.

    Raises :class:`InputDataError` (one line, naming the file) for a missing file, a
    directory, malformed or non-UTF-8 CSV, a missing column, or no rows below the header.
    Callers convert and check numeric columns themselves (so that messages show the raw text).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: file not found")
    if path.is_dir():
        raise InputDataError(f"{path}: is a directory, expected a CSV file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{path}: malformed CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(
            f"{path}: column '{missing[0]}' is missing; expected columns {', '.join(columns)}"
        )
    if df.empty:
        raise InputDataError(f"{path}: no data rows below the header")
    return df


def check_writable(path, overwrite: bool) -> None:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``overwrite`` is false.

    ``"-"`` (standard output) is always writable. Checked before any work starts so that a
    refused run does no work and writes nothing.
    """
    if str(path) == "-":
        return
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(
            f"{p}: file exists and won't be overwritten without --overwrite"
        )
    if p.exists() and p.is_dir():
        raise OutputExistsError(f"{p}: is a directory, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputDataError(f"{p}: directory {parent} does not exist")


@contextlib.contextmanager
def atomic_write(path, overwrite: bool = False, mode: str = "w") -> Iterator:
    """Open ``path`` for writing through a temporary file renamed into place on success.

    ``"-"`` writes to standard output. On any exception the temporary file is removed and the
    target is left as it was.
    """
    if str(path) == "-":
        if "b" in mode:
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        sys.stdout.flush()
        return
    check_writable(path, overwrite)
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
    try:
        kwargs = {} if "b" in mode else {"newline": "", "encoding": "utf-8"}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        if p.exists() and not overwrite:  # appeared while we were writing
            raise OutputExistsError(
                f"{p}: file exists and won't be overwritten without --overwrite"
            )
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write_all(paths, overwrite: bool = False, modes=None) -> Iterator[list]:
    """Write several files so that either all of them appear or none does.

    Yields one open handle per path. Everything is written to temporary files first; only when
    every file has been written are they renamed into place. Files they replace are moved aside
    first and put back if any rename fails, so a failure leaves the directory as it was.
    """
    paths = [Path(p) for p in paths]
    modes = modes or ["w"] * len(paths)
    for p in paths:
        check_writable(p, overwrite)
    temps, handles = [], []
    try:
        for p, mode in zip(paths, modes):
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent or ".")
            temps.append(tmp)
            kwargs = {} if "b" in mode else {"newline": "", "encoding": "utf-8"}
            handles.append(os.fdopen(fd, mode, **kwargs))
        yield handles
        for h in handles:
            h.close()
        umask = os.umask(0)
        os.umask(umask)
        for tmp in temps:
            os.chmod(tmp, 0o666 & ~umask)
        for p in paths:
            if p.exists() and not overwrite:  # appeared while we were writing
                raise OutputExistsError(
                    f"{p}: file exists and won't be overwritten without --overwrite"
                )
        _replace_all(temps, paths)
    finally:
        for h in handles:
            h.close()
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _replace_all(temps, paths) -> None:
    """Rename every temporary file onto its target; on failure restore the previous state."""
    backups, done = {}, []
    try:
        for p in paths:
            if p.exists():
                fd, bak = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".bak", dir=p.parent or ".")
                os.close(fd)
                os.replace(p, bak)
                backups[p] = bak
        for tmp, p in zip(temps, paths):
            os.replace(tmp, p)
            done.append(p)
    except BaseException:
        for p in done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        for p, bak in backups.items():
            os.replace(bak, p)
        raise
    for bak in backups.values():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(bak)


def format_float(x: float) -> str:
    """Shortest text that reads back as the same float (``repr``), with ``0`` for zero."""
    return "0" if x == 0 else repr(float(x))


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_estimate(df, out, fmt="csv", overwrite=False, *, inputs=None, seed=None, samples=0,
                   scenarios=(), inflow_at="middle", argv=None) -> None:
    """Write an estimate table and ``<out>.meta.json`` atomically (``-``: CSV to stdout only).

    Numbers are written with 6 significant digits; a missing value (a secondary share where
    there are no sales) is an empty cell.
    """
    import datetime as dt
    import json
    import platform

    from . import __version__

    meta = None
    if out != "-":
        check_writable(out, overwrite)
        check_writable(str(out) + ".meta.json", overwrite)
    if inputs is not None:
        meta = {
            "urbanmine_version": __version__,
            "command": " ".join(argv) if argv else None,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "scenarios": [
                {"name": sc.name, "description": sc.description, "demand": sc.demand,
                 "chain": sc.chain, "file": str(sc.path) if sc.path else None,
                 "file_sha256": _sha256(sc.path) if sc.path else None, "levers": sc.describe()}
                for sc in scenarios
            ],
            "differences": [f"{sc.name} minus {scenarios[0].name}" for sc in list(scenarios)[1:]],
            "samples": int(samples),
            "seed": seed,
            "inflow_at": inflow_at,
            "conventions": {
                "units": "masses in t, flows in t/yr, shares as fractions 0-1; the unit is on every row",
                "time": "stocks at the end of each year; flows per year; inflow_at as stated",
                "statistics": ("value = every input at its central value; mean, p05, p50, p95 over "
                               "the Monte Carlo samples (uncertainty around each scenario; scenarios "
                               "share their draws, so differences and totals are per sample)")
                              if samples else "value = every input at its central value",
                "recovered": "expected recovery under the scenario's choices; under "
                             "technical-potential it is the recoverable upper bound",
                "secondary_share": "recovered / sales of the modelled products only (smartphones, "
                                   "EV traction motors, wind turbines), not of the whole economy",
                "totals": "element REE = Nd + Pr + Dy + Tb; product all = sum of the products of "
                          "the run; both summed per sample before the statistics",
                "number_format": "6 significant digits",
            },
            "collection_model": {
                "id": inputs.model.id,
                "tau_yr": inputs.model.tau,
                "created": inputs.model.metadata.get("created"),
            },
            "inputs_sha256": {str(p): _sha256(p) for p in inputs.files},
        }
    if fmt not in ("csv", "parquet", "iamc"):
        raise InputDataError(f"format = {fmt!r}, expected csv, parquet or iamc")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputDataError("--format parquet needs pyarrow: pip install pyarrow") from None
    if out == "-":
        _write_table(df, sys.stdout, fmt)
        sys.stdout.flush()
        return
    if meta is None:
        with atomic_write(out, overwrite, mode="wb" if fmt == "parquet" else "w") as fh:
            _write_table(df, fh, fmt)
        return
    # the table and its metadata appear together or not at all
    with atomic_write_all([out, str(out) + ".meta.json"], overwrite,
                          ["wb" if fmt == "parquet" else "w", "w"]) as (fh, mh):
        _write_table(df, fh, fmt)
        json.dump(meta, mh, indent=2)
        mh.write("\n")


def _write_table(df, fh, fmt) -> None:
    if fmt == "parquet":
        df.to_parquet(fh, index=False)
    elif fmt == "iamc":
        write_csv(to_iamc(df), fh)
    else:
        write_csv(df, fh)


IAMC_COLUMNS = ("model", "scenario", "region", "variable", "unit", "year", "value")
IAMC_STAGES = {
    "sales": "Sales", "in_use_stock": "In-Use Stock", "net_export": "Net Export", "end_of_life": "End of Life",
    "collected": "Collected", "liberated": "Liberated", "recovered": "Recovered",
    "secondary_share": "Secondary Share",
}
"""The IAMC variable name of each stage (the first level of ``Stage|Element|Product``)."""
IAMC_PRODUCTS = {"ev_traction_motor": "EV Traction Motor", "all": "All Products"}
IAMC_STATISTICS = {"mean": "Mean", "p05": "p05", "p50": "p50", "p95": "p95"}


def iamc_product(product: str) -> str:
    """The IAMC name of a product id: ``wind_turbine`` -> ``Wind Turbine``."""
    return IAMC_PRODUCTS.get(product, product.replace("_", " ").title())


def to_iamc(df, model: str | None = None):
    """An estimate table in the IAMC long layout read by ``pyam.IamDataFrame``.

    Columns ``model, scenario, region, variable, unit, year, value``; ``model`` is
    ``urbanmine <version>``; ``variable`` is ``Stage|Element|Product`` (e.g.
    ``Recovered|REE|Wind Turbine``, ``End of Life|Nd|All Products``) for the central values and
    ``Stage|Element|Product|Mean`` (``|p05``, ``|p50``, ``|p95``) for the Monte Carlo statistics.
    Cells without a value (a secondary share without sales) are left out: the IAMC format has no
    empty values.
    """
    import pandas as pd

    from . import __version__

    model = model or f"urbanmine {__version__}"
    base = (df["stage"].astype(str).map(IAMC_STAGES) + "|" + df["element"].astype(str) + "|"
            + df["product"].astype(str).map(iamc_product))
    frames = []
    for col, suffix in [("value", ""), *((c, "|" + n) for c, n in IAMC_STATISTICS.items() if c in df)]:
        frames.append(pd.DataFrame({
            "model": model, "scenario": df["scenario"].astype(str), "region": df["region"].astype(str),
            "variable": base + suffix, "unit": df["unit"].astype(str), "year": df["year"].astype(int),
            "value": df[col].astype(float),
        }))
    out = pd.concat(frames, ignore_index=True)
    return out[out["value"].notna()].reset_index(drop=True)


def write_csv(df, fh, *, chunk_rows: int = 200_000) -> None:
    """Write a tidy table as CSV: floats with 6 significant digits, a missing value as an empty cell.

    The same text as ``df.to_csv(index=False, float_format="%.6g", lineterminator="\n")``,
    about twice as fast for the label-heavy tables of an estimate (millions of rows for every
    country): each column is formatted once per chunk of rows and the lines are joined. Tables
    with a text cell that CSV would need to quote fall back to pandas.
    """
    import pandas as pd

    def strings(col):
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = [str(c) for c in col.cat.categories]
            codes = col.cat.codes.tolist()
            return ["" if c < 0 else cats[c] for c in codes]
        if col.dtype.kind in "iub":
            return list(map(str, col.tolist()))
        if col.dtype.kind == "f":
            fmt = "{:.6g}".format
            return ["" if v != v else fmt(v) for v in col.tolist()]
        return ["" if v is None or v != v else str(v) for v in col.tolist()]

    def needs_quotes(col):
        if col.dtype.kind in "iubf":
            return False
        values = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col.dropna().unique()
        return any(any(ch in str(v) for ch in ',"\n\r') for v in values)

    if any(needs_quotes(df[c]) for c in df.columns) or any("," in str(c) for c in df.columns):
        df.to_csv(fh, index=False, float_format="%.6g", lineterminator="\n")
        return
    fh.write(",".join(map(str, df.columns)) + "\n")
    for start in range(0, len(df), chunk_rows):
        part = df.iloc[start : start + chunk_rows]
        cols = [strings(part[c]) for c in part.columns]
        fh.write("\n".join(map(",".join, zip(*cols))) + "\n")
