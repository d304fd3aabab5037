"""Federated transfer learning: a labelled source party and a target party with few shared samples and features.

Secure FTL after Liu et al. (IEEE Intelligent Systems 2020): each party maps its own features
into a shared representation with its own torch network; gradients cross between the parties
only Paillier-encrypted and masked (:mod:`fl_node.ftl.protocol`); shared samples are found by the
shared PSI (:mod:`fl_node.twoparty.psi`); the target's other samples are scored jointly; the run is recorded on the
ledger (:mod:`fl_node.ftl.record`).
"""
