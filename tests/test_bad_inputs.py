"""Bad inputs end in one line on stderr, exit code 1, no traceback, and no output touched."""

import json
import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from urbanmine.cli import main

ROOT = Path(__file__).parents[1]
RUN = ["estimate", "--region", "EU27", "--from", "2030", "--to", "2030", "-q"]


def _run(args):
    res = CliRunner().invoke(main, args)
    return res


def test_pickled_model_is_refused_and_never_unpickled(tmp_path, monkeypatch, assert_one_line_error):
    loaded = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: loaded.append(1))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: loaded.append(1))
    for name, payload in [("m.pkl", pickle.dumps({"format": "urbanmine"})),
                          ("m0.pkl", pickle.dumps({"a": 1}, protocol=0)),
                          ("bin.json", bytes(range(256)))]:
        model = tmp_path / name
        model.write_bytes(payload)
        out = tmp_path / "out.csv"
        res = _run([*RUN, "--model", str(model), "--out", str(out)])
        assert_one_line_error(res, str(model), "JSON")
        assert not out.exists() and not Path(str(out) + ".meta.json").exists()
    assert loaded == []


def test_profile_value_the_estimate_cannot_honour_is_rejected(tmp_path, assert_one_line_error):
    prof = tmp_path / "profiles"
    shutil.copytree(ROOT / "product_profiles", prof)
    wind = prof / "wind_turbine.toml"
    text = wind.read_text()
    start = text.index("[end_of_life]")
    # an end-of-life rate is a scenario choice (where year paths are honoured), not profile data
    wind.write_text(text[:start] + '[end_of_life]\nroute = "hydrometallurgy"\n'
                    'liberation = { year = [2029, 2030], central = [0.05, 0.95], assumption = "test" }\n')
    out = tmp_path / "out.csv"
    res = _run([*RUN, "--profiles", str(prof), "--out", str(out)])
    assert_one_line_error(res, str(wind), "end_of_life.liberation")
    assert not out.exists()
    res = _run(["profiles", "validate", str(prof)])
    assert res.exit_code == 1 and "end_of_life.liberation" in res.output


@pytest.mark.parametrize("option", ["--profiles", "--data"])
def test_a_file_where_a_directory_is_expected(tmp_path, option, assert_one_line_error):
    out = tmp_path / "out.csv"
    res = _run([*RUN, option, str(ROOT / "README.md"), "--out", str(out)])
    assert_one_line_error(res, "README.md", "is a file, expected a", "directory")
    assert not out.exists()


def test_failed_metadata_write_leaves_neither_file(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    meta = Path(str(out) + ".meta.json")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(OSError):
        CliRunner().invoke(main, [*RUN, "--out", str(out)], catch_exceptions=False)
    assert not out.exists() and not meta.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary files left either
    # an existing pair being overwritten is left exactly as it was
    out.write_text("old csv\n")
    meta.write_text("old meta\n")
    with pytest.raises(OSError):
        CliRunner().invoke(main, [*RUN, "--out", str(out), "--overwrite"], catch_exceptions=False)
    assert out.read_text() == "old csv\n" and meta.read_text() == "old meta\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.csv.meta.json"]


def test_failed_rename_restores_the_previous_files(tmp_path, monkeypatch):
    """The second rename failing (after the first succeeded) puts the old pair back."""
    import os

    from urbanmine import io as uio

    a, b = tmp_path / "a.csv", tmp_path / "a.csv.meta.json"
    a.write_text("old a")
    b.write_text("old b")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst) == str(b) and str(src).endswith(".tmp"):
            raise OSError(5, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(uio.os, "replace", flaky)
    with pytest.raises(OSError), uio.atomic_write_all([a, b], overwrite=True) as (fa, fb):
        fa.write("new a")
        fb.write("new b")
    assert a.read_text() == "old a" and b.read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csv.meta.json"]
