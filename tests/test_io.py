"""The CSV writer gives exactly pandas' text (6 significant digits, empty cells for missing)."""

import io

import numpy as np
import pandas as pd
import pytest

from urbanmine.io import write_csv


def _pandas(df):
    return df.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def _ours(df, **kw):
    buf = io.StringIO()
    write_csv(df, buf, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("chunk_rows", [1, 3, 200_000])
def test_same_text_as_pandas(chunk_rows):
    values = [0.0, -0.0, 1.0, 5.0, 1234567.0, 0.000123456789, 1e-12, 3.2128800000000002, np.nan, np.inf,
              -2.5e16, 123456.5]
    n = len(values)
    df = pd.DataFrame({
        "scenario": pd.Categorical(["current-practice"] * (n - 1) + ["a minus b"]),
        "region": ["EU27", "WORLD"] * (n // 2),
        "year": np.arange(2020, 2020 + n),
        "value": values,
        "p05": np.linspace(-1, 1, n),
    })
    assert _ours(df, chunk_rows=chunk_rows) == _pandas(df)


def test_empty_table_and_text_that_needs_quotes():
    empty = pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)})
    assert _ours(empty) == _pandas(empty)
    quoted = pd.DataFrame({"name": ["plain", "with, comma", 'with "quote"'], "value": [1.0, 2.0, np.nan]})
    assert _ours(quoted) == _pandas(quoted)
