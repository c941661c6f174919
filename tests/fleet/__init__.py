"""Test fleet on one machine: `from fleet import Fleet` with <repo>/tests on sys.path."""

from .fleet import Fleet, FleetError  # noqa: F401
