"""Data: what a data root holds (catalog), control maps, downloads (fetch), the synthetic set, and the
instances drawn from a root (``build_instances``) or read from a user's file (``load_instances``)."""

from .instances import build_instances, load_instances
from .roots import resolve_data_root

__all__ = ["build_instances", "load_instances", "resolve_data_root"]
