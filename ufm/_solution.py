"""The result object returned by :func:`ufm.minimize`."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Array, Float

__all__ = ["Solution"]

STATUS_MESSAGES = {
    "converged": "converged: largest per-sample gradient norm <= tol",
    "max_steps": "not converged: stopped at max_steps before the gradient norm reached tol",
    "nonfinite": "failed: the objective or gradient became NaN or infinite",
    "stalled": (
        "not converged: the optimizer stopped before max_steps (no further progress at this precision), "
        "but the gradient norm recomputed at the returned features is above tol"
    ),
}


@dataclasses.dataclass(frozen=True)
class Solution:
    """What a solve returns: the features and an honest account of how the solve ended.

    Attributes:
        features: features at the last iterate, in ``problem.feature_shape``
            (``(K, K, M, d)``, or ``(P, M, d)`` with pair subsampling).
        objective: the objective (mean over samples) at ``features``.
        grad_norm: the largest per-sample gradient 2-norm $\\max_i\\|W^\\top(p_i - y_i) + \\mu h_i\\|$,
            recomputed by autodiff of ``problem.objective`` at ``features`` (not read from the
            optimizer's state).
        converged: ``grad_norm <= tol`` and everything finite.
        status: ``"converged"``, ``"max_steps"``, ``"stalled"`` or ``"nonfinite"``.
        num_steps: optimizer iterations taken.
        method: the optimizer's name.
        tol: the tolerance on ``grad_norm``.
        compile_seconds: time to trace and compile the jitted loop.
        solve_seconds: wall time of the compiled loop (compilation excluded).
        history: the values of ``minimize``'s ``record`` function at the start and after each
            step (``num_steps + 1`` values), or ``None``.
    """

    features: Float[Array, "..."]
    objective: float
    grad_norm: float
    converged: bool
    status: str
    num_steps: int
    method: str
    tol: float
    compile_seconds: float
    solve_seconds: float
    history: np.ndarray | None = None

    @property
    def message(self) -> str:
        """A one-line human-readable account of ``status``."""
        return STATUS_MESSAGES[self.status]

    def summary(self) -> dict:
        """The scalar fields as a JSON-ready dict."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("features", "history")}
        out["message"] = self.message
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}
