"""Write one small profile directory per failure mode (run by hand; output is committed).

Each directory holds references.toml and one profile (``gadget.toml``) with exactly the defect
its name says, except ``two_problems`` which has two. ``valid`` has none.

    python tests/data/profiles/make_fixtures.py
"""

from pathlib import Path

HERE = Path(__file__).parent

REFS = '''schema_version = 1
[SRC1]
citation = "Author, A. (2020). A test reference. Journal of Tests 1, 1-2."
'''

VALID = '''schema_version = 1
product = "gadget"
name = "Gadget"
unit = "device"
description = "A small test product"
elements = ["Nd", "Pr", "Dy", "Tb"]

[lifetime]
family = "weibull"
shape = { central = 2.0, assumption = "test" }
scale = { central = 5.0, low = 4.0, high = 6.0, source = ["SRC1"] }

[segments.all]
description = "all"

[segments.all.shares]
year = [2000, 2020]
central = { magnet = [0.6, 0.8], none = [0.4, 0.2] }
source = ["SRC1"]

[segments.all.technologies.magnet]
composition = "grade"
magnet_kg_per_unit = { central = 0.001, low = 0.0005, high = 0.002, source = ["SRC1"] }

[segments.all.technologies.none]
composition = "grade"
magnet_kg_per_unit = { central = 0.0, assumption = "no magnet" }

[compositions.grade]
Nd = { central = 0.25, source = ["SRC1"] }
Pr = { central = 0.05, source = ["SRC1"] }
Dy = { year = [2000, 2020], central = [0.04, 0.02], source = ["SRC1"] }
Tb = { central = 0.0, assumption = "none" }

[end_of_life]
route = "hydrometallurgy"
collection_category = "small_electronics"
'''

CASES = {
    "valid": [],
    "shares_not_summing": [("none = [0.4, 0.2]", "none = [0.4, 0.3]")],
    "percent_not_fraction": [("Nd = { central = 0.25,", "Nd = { central = 25.0,")],
    "unknown_element": [("Tb = { central = 0.0,", "Xx = { central = 0.0,")],
    "missing_source": [("Pr = { central = 0.05, source = [\"SRC1\"] }", "Pr = { central = 0.05 }")],
    "scenario_choice_in_profile": [("collection_category = \"small_electronics\"\n", "collection_category = \"small_electronics\"\nliberation = { central = 0.1, assumption = \"test\" }\n")],
    "unknown_reference": [("scale = { central = 5.0, low = 4.0, high = 6.0, source = [\"SRC1\"] }", "scale = { central = 5.0, low = 4.0, high = 6.0, source = [\"NOPE2001\"] }")],
    "malformed_toml": [("[segments.all]\n", "[segments.all\n")],
    "negative_magnet_mass": [("central = 0.001, low = 0.0005", "central = -0.001, low = -0.002")],
    "low_above_central": [("central = 5.0, low = 4.0", "central = 5.0, low = 5.5")],
    "unknown_lifetime_family": [('family = "weibull"', 'family = "gamma"')],
    "wrong_schema_version": [("schema_version = 1\nproduct", "schema_version = 2\nproduct")],
    "unknown_composition": [('composition = "grade"\nmagnet_kg_per_unit = { central = 0.001', 'composition = "grd"\nmagnet_kg_per_unit = { central = 0.001')],
    "misspelt_key": [("[end_of_life]\nroute", "[end_of_life]\nroutes = \"x\"\nroute")],
    "bare_number": [("Pr = { central = 0.05, source = [\"SRC1\"] }", "Pr = 0.05")],
    "year_list_length": [("Dy = { year = [2000, 2020], central = [0.04, 0.02]", "Dy = { year = [2000, 2020], central = [0.04, 0.02, 0.01]")],
    "two_problems": [("none = [0.4, 0.2]", "none = [0.4, 0.3]"), ("Nd = { central = 0.25,", "Nd = { central = 25.0,")],
}


def main():
    for name, edits in CASES.items():
        d = HERE / name
        d.mkdir(exist_ok=True)
        text = VALID
        for old, new in edits:
            assert old in text, (name, old)
            text = text.replace(old, new, 1)
        (d / "references.toml").write_text(REFS)
        (d / "gadget.toml").write_text(text)


if __name__ == "__main__":
    main()
