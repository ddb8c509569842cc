"""Simulated source systems for the demo and tests: one consistent world (`world.py`)
rendered by writers, first the generic inbox (`generic.py`)."""

from connectors.simulator.generic import Manifest, simulate, write_generic
from connectors.simulator.world import DEFAULT_END, World, build_world

__all__ = ["DEFAULT_END", "Manifest", "World", "build_world", "simulate", "write_generic"]
