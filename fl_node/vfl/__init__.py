"""Vertical federated learning: private set intersection, then Paillier hetero logistic regression.

Guest A holds labels and some features, host B other features of partly the same samples,
arbiter C the Paillier private key. :mod:`~fl_node.vfl.psi` aligns the samples without
revealing the rest; :mod:`~fl_node.vfl.hetero_lr` trains a logistic regression over the
joined features with masked, encrypted gradients; :mod:`~fl_node.vfl.parties` is each role's
program, :mod:`~fl_node.vfl.runner` runs them in threads or processes (gRPC, see
:mod:`~fl_node.vfl.transport`), :func:`~fl_node.vfl.demo.run_vfl` ties it together.
"""

from fl_node.vfl.data import PartyData, VerticalSplit, breast_cancer_vertical, load_party_csv
from fl_node.vfl.demo import LedgerRecord, VFLResult, run_vfl
from fl_node.vfl.hetero_lr import HeteroLRArbiter, HeteroLRConfig, HeteroLRGuest, HeteroLRHost, fit_plain
from fl_node.vfl.parties import ArbiterParty, GuestParty, HostParty, VFLConfig
from fl_node.vfl.psi import EcdhPsi

__all__ = [
    "ArbiterParty",
    "EcdhPsi",
    "GuestParty",
    "HeteroLRArbiter",
    "HeteroLRConfig",
    "HeteroLRGuest",
    "HeteroLRHost",
    "HostParty",
    "LedgerRecord",
    "PartyData",
    "VFLConfig",
    "VFLResult",
    "VerticalSplit",
    "breast_cancer_vertical",
    "fit_plain",
    "load_party_csv",
    "run_vfl",
]
