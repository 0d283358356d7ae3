"""Files the package ships: Avro schemas, projection SQL and the intake's lookup tables.

``schemas`` and ``projections`` are symlinks to the top-level ``schemas/`` and
``projections/`` folders (the repository layout keeps them there): an editable install
reads the checkout's files through the links, and building a wheel copies the files
they point at into ``oms_events/resources/``. Either way they are found with
``importlib.resources``, never relative to a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def folder(*parts: str) -> Path:
    """A folder (or file) of the installed package's data, e.g. ``folder("schemas")``.

    The package is installed as files (wheel or editable), so importlib.resources hands
    out real paths; code that walks folders (the schema catalog, migrations) needs them.
    """
    found = files("oms_events").joinpath(*parts)
    if not isinstance(found, Path):
        raise RuntimeError(f"oms_events is not installed as files: {found} is not a path")
    return found


def schemas() -> Path:
    """The ``schemas/`` folder: one ``.avsc`` per record, ``released/`` the frozen set."""
    return folder("resources", "schemas")


def sql() -> Path:
    """The ``projections/`` folder: the migrations ``oms db migrate`` applies."""
    return folder("resources", "projections")


def intake_table(name: str) -> Path:
    """One of the intake's default lookup tables (``skus.json``, ``promotions.json``)."""
    return folder("intake", name)
