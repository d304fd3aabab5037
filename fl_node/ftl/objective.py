"""The FTL objective, its Taylor-approximated gradients in the clear, and the encryption error bounds.

Notation (Liu et al., "A Secure Federated Transfer Learning Framework", IEEE Intelligent
Systems 2020): source party A maps its samples to ``u_k^A``, target party B to ``u_i^B``, both
in ``R^d``; labels are ``y ∈ {-1, +1}``. With ``Φ = (1/N_A) Σ_k y_k u_k^A`` over A's labelled
samples, B's sample ``j`` is scored ``φ_j = Φ·u_j^B``. Over a batch of ``b`` shared samples::

    L = (1/b) Σ_i [log 2 - ½ y_i φ_i + ⅛ φ_i²]          second-order Taylor form of log(1 + e^(-y φ))
      + (γ/b) Σ_i ½ ‖u_i^A - u_i^B‖²                      alignment on the shared samples
      + β · (1/N_A) Σ_k log(1 + e^(-y_k Φ·u_k^A))         A's own labels (local to A, exact)
      + weight decay (local to each party's optimizer)

The Taylor form makes the label term polynomial, so its gradients are linear in the values
each party holds encrypted. With ``a_i = -½ y_i Φ - γ u_i^A``, ``Q = ¼ Φ Φᵀ``,
``P = ¼ Σ_i u_i^B u_i^Bᵀ``::

    ∂L/∂u_i^B        = (a_i + Q u_i^B + γ u_i^B) / b
    ∂L/∂Φ   (label)  = (-½ Σ_i y_i u_i^B + P Φ) / b
    ∂L/∂u_i^A (align) = (γ u_i^A - γ u_i^B) / b

A turns ``∂L/∂Φ`` into ``∂L/∂u_k^A`` by backpropagating through Φ (``y_k/N_A`` each). The
Taylor gradient ``-½ y + ¼ φ`` differs from the exact ``-y σ(-y φ)`` by at most ``|φ|³/48``
(:func:`taylor_gradient_gap`). The β term is the one addition to the paper's objective: it lets
A's representation learn from A's labelled samples that B does not share (the paper's
objective reaches them only through Φ); it needs no exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.ftl.arithmetic import product_error_bound

__all__ = ["Gradients", "reference_gradients", "gradient_error_bounds", "taylor_gradient_gap", "taylor_loss"]


@dataclass(frozen=True)
class Gradients:
    """The gradients one iteration exchanges.

    Attributes
    ----------
    target : np.ndarray
        ``∂L/∂u_i^B``, shape (b, d).
    phi : np.ndarray
        ``∂L/∂Φ`` of the label term, shape (d,).
    source : np.ndarray
        ``∂L/∂u_i^A`` of the alignment term on the shared samples, shape (b, d).
    """

    target: np.ndarray
    phi: np.ndarray
    source: np.ndarray


def taylor_loss(phi: np.ndarray, labels: np.ndarray) -> float:
    """Mean second-order Taylor logistic loss of scores ``phi`` for ±1 ``labels``."""
    phi = np.asarray(phi, dtype=np.float64)
    return float(np.mean(np.log(2.0) - 0.5 * labels * phi + phi * phi / 8.0))


def taylor_gradient_gap(phi: np.ndarray) -> np.ndarray:
    """Bound ``|φ|³/48`` on |exact − Taylor| gradient of the logistic loss w.r.t. the score."""
    return np.abs(np.asarray(phi, dtype=np.float64)) ** 3 / 48.0


def reference_gradients(phi_source: np.ndarray, labels: np.ndarray, u_source: np.ndarray, u_target: np.ndarray, gamma: float) -> Gradients:
    """The gradients of the module docstring, in float64 with both parties' values in the clear.

    Parameters
    ----------
    phi_source : np.ndarray
        Φ, shape (d,).
    labels : np.ndarray
        ±1 labels of the batch's shared samples, shape (b,).
    u_source, u_target : np.ndarray
        ``u_i^A`` and ``u_i^B`` of the batch, shape (b, d), rows aligned.
    gamma : float
        Alignment weight γ.
    """
    phi_source = np.asarray(phi_source, dtype=np.float64)
    u_source = np.asarray(u_source, dtype=np.float64)
    u_target = np.asarray(u_target, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    b = len(labels)
    a = -0.5 * labels[:, None] * phi_source[None, :] - gamma * u_source
    q = 0.25 * np.outer(phi_source, phi_source)
    p = 0.25 * u_target.T @ u_target
    return Gradients(
        target=(a + u_target @ q + gamma * u_target) / b,
        phi=(-0.5 * labels @ u_target + p @ phi_source) / b,
        source=(gamma * u_source - gamma * u_target) / b,
    )


def gradient_error_bounds(phi_source: np.ndarray, labels: np.ndarray, u_source: np.ndarray, u_target: np.ndarray, gamma: float, bits: int) -> Gradients:
    """Elementwise bounds on |encrypted − plaintext| gradient at precision ``bits``.

    Every sealed value and every plaintext factor is rounded to ``2^-bits`` (products and the
    parties' own terms to ``2^-2·bits``); :func:`fl_node.ftl.arithmetic.product_error_bound`
    bounds each product (the rounding of the sealed factor included), and the roundings of
    ``a_i`` and of each party's own term are added.
    """
    phi_source = np.asarray(phi_source, dtype=np.float64)
    u_source = np.asarray(u_source, dtype=np.float64)
    u_target = np.asarray(u_target, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    b = u_target.shape[0]
    fine = 2.0 ** -(2 * bits + 1)
    q = 0.25 * np.outer(phi_source, phi_source)
    p = 0.25 * u_target.T @ u_target
    target = product_error_bound(u_target, q, bits) + 2 * fine
    phi = (
        product_error_bound(-0.5 * labels[None, :], u_target, bits)
        + product_error_bound(phi_source[None, :], p, bits)
    ).ravel()
    half = 2.0 ** -(bits + 1)
    source = half * (abs(gamma) + np.abs(u_target)) + half * half + fine
    return Gradients(target=target / b, phi=phi / b, source=source / b)

