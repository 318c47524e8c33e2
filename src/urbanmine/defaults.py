"""Where the shipped defaults (product profiles, regional data, fitted models) are.

In a source checkout or an editable install they are the repository's ``product_profiles/``,
``data/``, ``models/`` and ``scenarios/``; in an installed wheel they are copied to ``urbanmine/_defaults/``.
Every command takes ``--profiles``/``--data``/``--model`` to use other copies instead, and
``--scenario`` takes a file path as well as a shipped name.
"""

from __future__ import annotations

from pathlib import Path

KINDS = ("product_profiles", "data", "models", "scenarios")


def default_dir(kind: str) -> Path:
    """Directory of the shipped defaults of ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    here = Path(__file__).resolve().parent
    installed = here / "_defaults" / kind
    if installed.is_dir():
        return installed
    return here.parents[1] / kind
