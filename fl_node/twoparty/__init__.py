"""What vertical FL (:mod:`fl_node.vfl`) and transfer learning (:mod:`fl_node.ftl`) share.

Both are protocols between a few named parties that each hold their own table of samples:

* :mod:`~fl_node.twoparty.channel`: how parties move bytes (a :class:`Channel`, in process or
  over gRPC); :mod:`~fl_node.twoparty.runner` starts the parties in threads or processes.
* :mod:`~fl_node.twoparty.wire`: the byte form of a message (JSON header, fixed-width integers).
* :mod:`~fl_node.twoparty.tables`: a party's table (sample IDs, its features, optional labels).
* :mod:`~fl_node.twoparty.psi`: ECDH private set intersection, which finds the shared samples.
* :mod:`~fl_node.twoparty.encrypted`: Paillier fixed point, precomputed obfuscators and
  encrypted dot products (Pippenger multi-exponentiation).
* :mod:`~fl_node.twoparty.ledger`: a finished run recorded as one round on the ledger.

Neither :mod:`fl_node.vfl` nor :mod:`fl_node.ftl` imports the other; both import from here, and
nothing here imports either. Import from the submodules: the package itself imports nothing,
so that party processes start quickly.
"""
