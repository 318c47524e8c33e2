"""urbanmine report: builds from small estimates with and without samples; bad input."""

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from urbanmine.cli import main
from urbanmine.errors import InputDataError
from urbanmine.report import make_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def estimates(tmp_path_factory):
    d = tmp_path_factory.mktemp("est")
    r = CliRunner()
    for name, extra in (("det.csv", []), ("mc.csv", ["--samples", "60", "--seed", "2"])):
        res = r.invoke(main, ["estimate", "--region", "EU27", "--region", "WORLD", "--from", "2025", "--to", "2050",
                              "--out", str(d / name), "-q", *extra])
        assert res.exit_code == 0, res.output
    return d


@pytest.mark.parametrize(("name", "with_stats"), [("det.csv", False), ("mc.csv", True)])
def test_report_builds(estimates, tmp_path, name, with_stats):
    out = tmp_path / "rep"
    written = make_report(estimates / name, out, year=2040)
    names = {p.name for p in written}
    expected = {"recovered.png", "cascade_2040.png", "secondary_share.png", "report.html"}
    assert names == expected | ({"uncertainty.png"} if with_stats else set())
    for p in written:
        if p.suffix == ".png":
            data = p.read_bytes()
            assert data.startswith(PNG) and len(data) > 10_000
    text = (out / "report.html").read_text()
    assert text.count("data:image/png;base64,") == len(written) - 1
    assert "src='http" not in text  # self-contained
    # the key numbers of the CSV appear in the HTML table
    df = pd.read_csv(estimates / name)
    df = df[(df["product"] != "all") & (df.element != "REE")]  # the parts; totals are rows of their own
    rec = df[(df.stage == "recovered") & (df.region == "EU27") & (df.element == "Nd") & (df.year == 2050)]["value"].sum()
    sales = df[(df.stage == "sales") & (df.region == "EU27") & (df.element == "Nd") & (df.year == 2050)]["value"].sum()
    assert (f"<td>{rec:,.0f}</td>" if rec >= 100 else f"<td>{rec:.3g}</td>") in text
    assert f"{rec / sales:.1%}" in text
    # the total (REE, all products) of the CSV's own rows, with its range when sampled
    full = pd.read_csv(estimates / name)
    tot = full[(full["product"] == "all") & (full.element == "REE") & (full.region == "WORLD")
               & (full.stage == "recovered") & (full.year == 2040)].iloc[0]
    assert "Key numbers: REE, all products" in text
    if with_stats:
        assert "p05-p95 [t/yr]" in text
    else:
        assert "no Monte Carlo samples were drawn" in text
    assert f"{tot.value:.3g}" in text or f"{tot.value:,.0f}" in text
    assert "Assumptions and sources" in text and "WILSON2017" in text


def test_report_refuses_to_overwrite_and_bad_input(estimates, tmp_path):
    out = tmp_path / "rep"
    make_report(estimates / "det.csv", out, year=2030)
    with pytest.raises(Exception, match="--overwrite"):
        make_report(estimates / "det.csv", out, year=2030)
    make_report(estimates / "det.csv", out, year=2030, overwrite=True)
    with pytest.raises(InputDataError, match="file not found"):
        make_report(tmp_path / "none.csv", tmp_path / "r2")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputDataError, match="column 'scenario' is missing"):
        make_report(bad, tmp_path / "r3")
    with pytest.raises(InputDataError, match=re.escape("--year 2070: not in the estimate")):
        make_report(estimates / "det.csv", tmp_path / "r4", year=2070)
    res = CliRunner().invoke(main, ["report", str(bad), "--out", str(tmp_path / "r5")])
    assert res.exit_code == 1 and "column 'scenario' is missing" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r5" / "report.html").exists()


def test_estimate_report_shortcut(tmp_path):
    res = CliRunner().invoke(main, ["estimate", "--region", "USA", "--from", "2030", "--to", "2040",
                                    "--out", str(tmp_path / "u.csv"), "--report", str(tmp_path / "rep"), "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").exists()
    assert Path(tmp_path / "rep" / "cascade_2040.png").read_bytes().startswith(PNG)


VOID = {"meta", "img", "br", "hr", "input", "link"}


def _check_html(text):
    """Parse the report: every non-void tag is closed in order (a well-formed document)."""
    from html.parser import HTMLParser

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in VOID:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            else:
                self.stack.pop()

    c = Checker()
    c.feed(text)
    c.close()
    assert not c.errors, c.errors[:3]
    assert c.stack == [], c.stack
    assert text.startswith("<!DOCTYPE html>")


def test_report_with_scenarios_and_sensitivity_is_well_formed(tmp_path):
    est = tmp_path / "e.csv"
    r = CliRunner()
    res = r.invoke(main, ["estimate", "--region", "EU27", "--region", "CHN", "--from", "2025", "--to", "2050",
                          "--scenario", "current-practice", "--scenario", "announced-policies", "--samples", "40",
                          "--seed", "1", "--out", str(est), "-q"])
    assert res.exit_code == 0, res.output
    sens = tmp_path / "s.csv"
    res = r.invoke(main, ["sensitivity", "--region", "EU27", "--year", "2040", "--samples", "32", "--out", str(sens), "-q"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "rep"
    written = make_report(est, out, year=2040, sensitivity=sens)
    assert {p.name for p in written} >= {"scenarios.png", "sensitivity.png", "uncertainty.png", "report.html"}
    text = (out / "report.html").read_text()
    _check_html(text)
    # key numbers with median and range, per scenario and for the policy difference
    assert "<th>median [t/yr]</th><th>p05-p95 [t/yr]</th>" in text
    assert "announced-policies minus current-practice" in text
    assert "sales of the modelled products" in text
    # small products stay visible in the table; the sales data's sources are listed
    assert "Recovered REE by product" in text and ">smartphone<" in text
    assert "IEA_GEVO2025_DATA" in text and "OWID_IRENA2024_WIND" in text
    assert "What drives the uncertainty" in text
    # every figure is at least 200 dpi
    import struct

    for p in written:
        if p.suffix == ".png":
            data = p.read_bytes()
            i = data.find(b"pHYs")
            assert i > 0, p.name
            ppm = struct.unpack(">I", data[i + 4:i + 8])[0]
            assert ppm * 0.0254 >= 199, (p.name, ppm * 0.0254)


def test_report_says_what_is_absent(estimates, tmp_path):
    out = tmp_path / "rep"
    make_report(estimates / "det.csv", out, year=2040)
    text = (out / "report.html").read_text()
    _check_html(text)
    assert "Not shown: no Monte Carlo samples" in text and "one scenario only" in text
    assert "no sensitivity analysis" in text


def test_report_of_a_single_element_estimate(tmp_path):
    """An estimate of Nd alone has no REE rows: the figures and tables show Nd."""
    est = tmp_path / "nd.csv"
    res = CliRunner().invoke(main, ["estimate", "--region", "EU27", "--element", "Nd", "--from", "2030", "--to", "2040",
                                    "--out", str(est), "-q"])
    assert res.exit_code == 0, res.output
    written = make_report(est, tmp_path / "rep", year=2035)
    text = (tmp_path / "rep" / "report.html").read_text()
    _check_html(text)
    assert "Recovered Nd by product" in text
    assert {p.name for p in written} >= {"recovered.png", "cascade_2035.png"}
