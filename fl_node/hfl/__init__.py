"""Horizontal federated learning: one round's participant, aggregator, key holder and coordinator, and the runner of the rounds.

The round (the seed's four steps; :mod:`fl_node.hfl.coordinator` adds the ledger around them):

1. The global flat vector goes out in a :class:`RoundPlan`, with the public sample count
   ``n_k`` of every selected participant; ``N`` is their total and ``w_k = n_k / N``.
2. Each :class:`Participant` trains locally and submits ``w_k * (local - global)``, clipped to
   ``[-clip, clip]`` and encoded by the round's update scheme: Paillier-encrypted by the
   packed codec (:class:`EncryptedUpdates`) or float32 bytes (:class:`PlainUpdates`,
   ``--no-encrypt``). A :class:`Submission` carries the blob and its keccak256 hash.
3. The :class:`Aggregator`, built from the public scheme only, checks each blob against the
   hash it expects (the ledger commitment), parses it, and adds any subset of the verified
   updates (:meth:`VerifiedRound.sum`) into a :class:`SummedUpdate`.
4. The :class:`KeyHolder`, which alone holds the decoder (the private key), decrypts sums
   only and rescales by ``1 / sum(w_k)`` over the included participants, so that a round
   with dropouts is still the sample-weighted FedAvg of those who took part.

Clipping and the error bound. The weighted delta ``w_k * (local - global)`` is clipped to
``[-clip, clip]`` before encoding, in both modes, so that encrypted and plaintext rounds
aggregate the same values; each submission counts its clipped values. A task's default clip is
``1/K`` for K members (:func:`fl_node.task.automatic_clip`): the mean weight is ``1/K`` and a
round of local training moves standardized-data models by far less than 1 per parameter, so
clipping is rare (the counts show it). The codec quantizes each value
with stochastic rounding on a grid of step ``q = clip / (2**(bits-1) - 1)`` (the codec's
``quantization_step``), so each decoded value is off by less than ``q``. For one round, the
new global vector then differs from the plaintext one by less than
``K * q / sum(w_k)`` per parameter (K included participants), see :func:`round_error_bound`
(bits=8, clip=0.1, 10 participants, no dropout: 7.87e-3; bits=16, clip=1: 3.05e-4). Over R rounds an encrypted and a
plaintext run start each later round from slightly different vectors; the sum of the
per-round bounds bounds their final difference when local training does not amplify
differences (SGD with a small step on a convex loss, e.g. ``logreg``). A non-convex model
(``mlp``) can amplify them; ``fedledger train --compare-plaintext`` measures both the
per-round deviation from the exact FedAvg and the final difference.

Dropouts (:func:`fl_node.hfl.aggregator.collect_submissions`, :mod:`fl_node.hfl.runner`): a participant that raises, or has
not submitted by the deadline, is left out of the round; the round goes on when at least
``min_participants`` usable submissions remain, is retried ``retries`` times otherwise, and
then raises :class:`~fl_node.errors.RoundAborted`.
"""
