"""The result object returned by :func:`ufm.minimize`."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Array, Float

from ._results import RESULTS

__all__ = ["Solution"]


@dataclasses.dataclass(frozen=True)
class Solution:
    r"""What a solve returns: the features and an honest account of how the solve ended.

    Attributes:
        features: features at the last iterate, in ``problem.feature_shape``
            (``(K, K, M, d)``, or ``(P, M, d)`` with pair subsampling): a JAX array placed as
            the solver left it (split over its devices), or a NumPy array after
            :func:`ufm.distributed.gather`.
        objective: the objective (weighted mean over samples) at ``features``.
        grad_norm: the largest per-sample gradient 2-norm $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$,
            recomputed from ``features`` (``minimize``'s ``final_check``; not read from the
            optimizer's state).
        status: a :class:`ufm.RESULTS` member (``status.message`` says it in words).
        num_steps: optimizer iterations taken (for ``newton``: the most any sample took).
        method: the solver's name.
        tol: the tolerance on ``grad_norm``.
        compile_seconds: time to trace and compile the jitted loop (about zero when a loop
            compiled for the same shapes is reused).
        solve_seconds: wall time of the compiled loop (compilation excluded).
        history: the values of ``minimize``'s ``record`` function at the start and after each
            step (``num_steps + 1`` values), or ``None``.
        sample_outcomes: for ``newton``, how many samples ended in each way (``converged``,
            ``max_steps``, ``stalled``, ``line_search_failed``, ``nonfinite``); ``None`` for
            the joint methods, which have no per-sample iteration.
        classifier: the classifier $W$, ``(K, d)``: the learned one for a problem with
            ``classifier_decay`` (one point of the optimal orbit $\{WQ\}$, $Q$ orthogonal), else
            the fixed simplex ETF.
    """

    features: Float[Array, "..."] | Float[np.ndarray, "..."]
    objective: float
    grad_norm: float
    status: RESULTS
    num_steps: int
    method: str
    tol: float
    compile_seconds: float
    solve_seconds: float
    history: np.ndarray | None = None
    sample_outcomes: dict[str, int] | None = None
    classifier: Float[Array, "K d"] | None = None

    @property
    def converged(self) -> bool:
        """``status`` is ``RESULTS.converged``: ``grad_norm <= tol`` and everything finite."""
        return self.status is RESULTS.converged

    @property
    def message(self) -> str:
        """A one-line human-readable account of ``status``."""
        return self.status.message

    def summary(self) -> dict:
        """The scalar fields as a JSON-ready dict."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("features", "history", "classifier")
        }
        out["status"] = str(self.status)
        out["converged"] = self.converged
        out["message"] = self.message
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}
