"""Vertical federated learning: private set intersection, then Paillier hetero logistic regression.

Guest A holds labels and some features, host B other features of partly the same samples,
arbiter C the Paillier private key. :mod:`~fl_node.twoparty.psi` aligns the samples without
revealing the rest; :mod:`~fl_node.vfl.hetero_lr` trains a logistic regression over the
joined features with masked, encrypted gradients; :mod:`~fl_node.vfl.parties` is each role's
program, :mod:`~fl_node.twoparty.runner` runs them in threads or processes (gRPC, see
:mod:`~fl_node.twoparty.channel`), :func:`~fl_node.vfl.demo.run_vfl` ties it together. Import from the submodules: the package
itself imports nothing, so that party processes start quickly.
"""
