"""Shared test configuration: Hypothesis profiles.

The default profile, ``ci``, is deterministic (``derandomize=True``): the README's test command
gives the same examples on every run, so the suite never fails by chance. ``explore`` draws new
random examples and more of them, to look for failures locally::

    python -m pytest tests/properties --hypothesis-profile=explore
    python -m pytest tests/properties --hypothesis-profile=explore --hypothesis-seed=1234

A failure found while exploring is fixed, and its example is added to the test with
``@example(...)`` so that the deterministic profile keeps checking it.
"""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", derandomize=False, max_examples=2000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture
def assert_one_line_error():
    """Check a CliRunner result: exit code 1, one line 'Error: ...' holding every fragment, no
    traceback (the project's contract for bad input)."""

    def check(res, *fragments):
        assert res.exit_code == 1, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1, res.output
        assert lines[0].startswith("Error: ") and "Traceback" not in res.output
        for f in fragments:
            assert f in lines[0], (f, lines[0])
        return lines[0]

    return check


@pytest.fixture
def gizmo_system(tmp_path):
    """A factory of tiny systems: one product 'gizmo' (the given profile text) sold in the given
    regions, with the shipped data otherwise. ``make(profile_text, values)`` where ``values`` maps
    (region, year) to devices per year; a region that is a grouping is split by population.
    Returns (profile directory, data directory)."""
    import shutil
    from pathlib import Path

    import pandas as pd

    def make(profile_text, values):
        prof = tmp_path / "profiles"
        prof.mkdir()
        (prof / "gizmo.toml").write_text(profile_text)
        data = tmp_path / "data"
        shutil.copytree(Path(__file__).parents[1] / "data", data)
        rows = [("s", r, "gizmo", "all", y, v, "device/yr", "reported", "X", "population" if r == "EU27" else "")
                for (r, y), v in values.items()]
        pd.DataFrame(rows, columns=["demand", "region", "product", "segment", "year", "value", "unit", "method",
                                    "source", "split_key"]).to_csv(data / "inflows.csv", index=False)
        return prof, data

    return make


def chain_scenario(collection="1.0", liberation="1.0", process_yield="1.0", name="tiny") -> str:
    """The text of a test scenario file that sets the whole end-of-life chain for every product:
    each argument is the TOML of a lever's value (and range), e.g. ``"0.5\\nlow = 0.2\\nhigh = 0.8"``."""
    levers = "".join(
        f'[[levers]]\nparameter = "{p}"\nvalue = {v}\nassumption = "test"\n'
        for p, v in (("collection", collection), ("liberation", liberation), ("process_yield", process_yield)))
    return f'schema_version = 1\nname = "{name}"\ndescription = "test chain"\ndemand = "s"\n{levers}'


GIZMO_HEAD = '''schema_version = 1
product = "gizmo"
name = "Gizmo"
unit = "device"
description = "test product"
elements = ["Nd", "Pr", "Dy", "Tb"]
[lifetime]
family = "fixed"
lifetime = { central = 2.0, assumption = "test" }
'''
"""The start of a test profile 'gizmo' with a fixed 2-year lifetime: a cohort of year c leaves
use in year c + 2 exactly."""
