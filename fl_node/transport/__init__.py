"""Transports of the federation's rounds: Flower deployment for consortium mode (the in-process transport is in :mod:`fl_node.federation`)."""
