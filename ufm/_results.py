"""How a solve ended: the typed status of :class:`ufm.Solution` (in the manner of optimistix's ``RESULTS``)."""

from __future__ import annotations

import enum

__all__ = ["RESULTS", "ConvergenceError"]


class RESULTS(enum.StrEnum):
    """The status of a solve. A ``str`` enum, so ``solution.status == "converged"`` also holds and
    JSON records carry the plain name; ``RESULTS.<member>.message`` is the one-line account.

    Members, in the order they take precedence when a solve ends:

    * ``nonfinite``: the objective or gradient at the returned features is NaN or infinite;
    * ``converged``: the largest per-sample gradient norm is at most ``tol``;
    * ``line_search_failed``: some samples' line search found no acceptable step (they were left
      where they were, not moved by a vanishing step);
    * ``stalled``: the solver stopped before ``max_steps`` because no further progress was possible
      at this precision, but the recomputed gradient norm is above ``tol``;
    * ``max_steps``: the iteration cap was reached first.
    """

    converged = "converged"
    max_steps = "max_steps"
    nonfinite = "nonfinite"
    stalled = "stalled"
    line_search_failed = "line_search_failed"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def successful(self) -> bool:
        return self is RESULTS.converged


_MESSAGES = {
    RESULTS.converged: "converged: largest per-sample gradient norm <= tol",
    RESULTS.max_steps: "not converged: stopped at max_steps before the gradient norm reached tol",
    RESULTS.nonfinite: "failed: the objective or gradient became NaN or infinite",
    RESULTS.stalled: (
        "not converged: the optimizer stopped before max_steps (no further progress at this precision), "
        "but the gradient norm recomputed at the returned features is above tol"
    ),
    RESULTS.line_search_failed: (
        "not converged: the line search found no decrease for some samples (they were left where "
        "they were); the gradient norm recomputed at the returned features is above tol"
    ),
}


class ConvergenceError(RuntimeError):
    """Raised by ``ufm.minimize(..., throw=True)`` when a solve does not converge.

    The :class:`ufm.Solution` is attached as ``error.solution``, so nothing computed is lost.
    """

    def __init__(self, solution):
        super().__init__(f"{solution.status.message} (solver {solution.method}, "
                         f"grad norm {solution.grad_norm:.3e}, tol {solution.tol:.1e})")
        self.solution = solution
