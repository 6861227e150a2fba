r"""The derived equations of the optimum as sympy expressions, for tests to evaluate numerically.

Each function returns expressions built by the derivations from the model in
:mod:`derivations._common` (nothing is typed in twice), together with the symbols they depend on,
so a test can ``sympy.lambdify`` them (to ``mpmath`` or ``numpy``) and evaluate them at the values
:mod:`ufm.analytic` returns. A change to the model or to a reduction that is not matched in
``ufm.analytic`` (or the reverse) makes those residuals nonzero.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp

from derivations._common import K, gamma, lam, t, u, v, x
from derivations.d3_same_class import same_class_residual
from derivations.d4_pair import pair_residuals
from derivations.d5_special_cases import binary_residual
from derivations.d6_limits import mse_margins

__all__ = ["same_class", "pair", "binary", "mse_pair", "symbols"]


def symbols() -> dict[str, sp.Symbol]:
    """The symbols the residuals use, by name: ``t, u, v, x, K, lam, gamma``."""
    return {"t": t, "u": u, "v": v, "x": x, "K": K, "lam": lam, "gamma": gamma}


def same_class() -> sp.Expr:
    r"""$\gamma\,t(e^t + K - 1)/K - 1$ in $(t, K, \gamma)$: relative, zero at the same-class margin."""
    return same_class_residual()


def pair() -> tuple[sp.Expr, sp.Expr]:
    r"""$(R_u, R_v)$ in $(u, v, K, \lambda, \gamma)$, $K \ge 3$: zero at the different-class margins."""
    return pair_residuals()


def binary() -> sp.Expr:
    r"""$\gamma x/2 - \lambda + \sigma(x)$ in $(x, \lambda, \gamma)$: zero at the $K = 2$ margin."""
    return binary_residual()


def mse_pair(num_classes: int) -> tuple[sp.Expr, sp.Expr]:
    r"""MSE variant: the margins $(z_c - z_o, z_{c'} - z_o)$ in $(s, \mu, \lambda)$ for a concrete $K \ge 3$."""
    return mse_margins(num_classes)


if __name__ == "__main__":
    print("same class:", same_class())
    print("pair:", *pair(), sep="\n  ")
    print("binary:", binary())
