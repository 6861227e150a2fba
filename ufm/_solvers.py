r"""Solvers as small frozen configuration objects, accepted by :func:`ufm.minimize`.

A solver says *how* to minimise; the problem (:class:`ufm.MixupUFM`) says *what*. Every solver
stops when the largest per-sample gradient 2-norm $\max_i\|W^\top(p_i - y_i) + \mu h_i\|$ is at most
``tol`` (default by dtype: ``1e-10`` in float64, ``1e-5`` in float32), or at ``max_steps``.

Numbers that change from one solve to the next (weight decay, $\lambda$, learning rate,
tolerance, iteration cap) are passed to the compiled loops as data, so a sweep compiles once; only
what changes the program (the kind of solver, L-BFGS's memory, a user's optax transformation)
is compiled in.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar, no_type_check

import optax

from ._validation import check_int, check_positive_real

__all__ = [
    "AbstractSolver",
    "Newton",
    "LBFGS",
    "Adam",
    "GradientDescent",
    "Optax",
    "SOLVERS",
    "as_solver",
    "DEFAULT_TOL",
]

# Default tolerance on the largest per-sample gradient norm, by dtype. float32: the gradient is
# computed with a rounding floor of about eps32 * s * |z| ~ 1e-6 * s (eps32 = 1.2e-7, logits
# |z| <~ 25), so 1e-5 is the smallest tolerance the solvers reach for scale s <= 10; see
# docs/robustness.md for the measurements.
DEFAULT_TOL = {"float64": 1e-10, "float32": 1e-5}


@no_type_check  # options checked by hand in __post_init__, with one-line messages
@dataclasses.dataclass(frozen=True, kw_only=True)
class AbstractSolver:
    """Options every solver has.

    Attributes:
        tol: tolerance on the largest per-sample gradient 2-norm (``None``: by dtype, see
            ``ufm.DEFAULT_TOL``).
        max_steps: iteration cap (``None``: the solver's ``default_max_steps``).
    """

    tol: float | None = None
    max_steps: int | None = None

    name: ClassVar[str] = "abstract"
    default_max_steps: ClassVar[int] = 1000

    def __post_init__(self):
        if self.tol is not None:
            object.__setattr__(self, "tol", check_positive_real("tol", self.tol))
        if self.max_steps is not None:
            object.__setattr__(self, "max_steps", check_int("max_steps", self.max_steps, 1))

    def steps(self) -> int:
        """``max_steps``, or the solver's default."""
        return self.default_max_steps if self.max_steps is None else self.max_steps

    def tolerance(self, dtype: str) -> float:
        """``tol``, or the default for ``dtype``."""
        return DEFAULT_TOL[dtype] if self.tol is None else self.tol

    def options(self) -> dict:
        """The solver's settings as a JSON-ready dict (for result records)."""
        out = {"solver": self.name}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value if isinstance(value, (int, float, str, type(None))) else repr(value)
        return out


@no_type_check
@dataclasses.dataclass(frozen=True, kw_only=True)
class Newton(AbstractSolver):
    r"""The structured, batched, damped Newton method (the default; ``ufm/_newton.py``).

    Exact per-sample Newton steps in $O(K)$ from the Gram structure $WW^\top = \beta(I -
    \mathbf{1}\mathbf{1}^\top/K)$ of the simplex ETF, a line search per sample, quadratic
    convergence; the samples are split over ``devices`` (see :func:`ufm.minimize`).
    """

    name: ClassVar[str] = "newton"
    default_max_steps: ClassVar[int] = 200


class _JointSolver(AbstractSolver):
    """A generic optimizer over all features jointly (an optax transformation)."""

    # Fields that are data of the compiled loop rather than part of the program.
    _data_fields: ClassVar[tuple[str, ...]] = ("tol", "max_steps")

    def structure(self) -> _JointSolver:
        """The solver with its data fields cleared: the static key of the compiled loop (hashable,
        equal for solvers that differ only in data)."""
        key = copy.copy(self)
        for name in self._data_fields:
            object.__setattr__(key, name, None)
        return key

    def hyperparameters(self, beta: float, weight_decay: float) -> dict[str, float]:
        """Numbers passed to the compiled loop as data (e.g. the learning rate)."""
        return {}

    def make_transform(self, hyper: dict[str, Any]) -> optax.GradientTransformationExtraArgs:
        """The optax transformation, built inside the compiled loop from ``hyper`` (traced)."""
        raise NotImplementedError


@no_type_check
@dataclasses.dataclass(frozen=True, kw_only=True)
class LBFGS(_JointSolver):
    """optax L-BFGS with its zoom line search over all features jointly: the generic path."""

    memory_size: int = 10

    name: ClassVar[str] = "lbfgs"
    default_max_steps: ClassVar[int] = 2_000

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "memory_size", check_int("memory_size", self.memory_size, 1))

    def make_transform(self, hyper):
        return optax.lbfgs(memory_size=self.memory_size)


@no_type_check
@dataclasses.dataclass(frozen=True, kw_only=True)
class Adam(_JointSolver):
    """optax Adam: a first-order baseline for training dynamics."""

    learning_rate: float = 1e-2

    name: ClassVar[str] = "adam"
    default_max_steps: ClassVar[int] = 20_000
    _data_fields: ClassVar[tuple[str, ...]] = ("tol", "max_steps", "learning_rate")

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "learning_rate", check_positive_real("learning_rate", self.learning_rate))

    def hyperparameters(self, beta, weight_decay):
        return {"learning_rate": self.learning_rate}

    def make_transform(self, hyper):
        return optax.with_extra_args_support(optax.adam(hyper["learning_rate"]))


@no_type_check
@dataclasses.dataclass(frozen=True, kw_only=True)
class GradientDescent(_JointSolver):
    r"""Plain gradient descent: the slow baseline (about $\beta/(2\mu)$ steps per e-fold).

    ``learning_rate=None`` uses $1/(\beta/2 + \mu)$, the inverse of the per-sample smoothness
    constant: the per-sample Hessian is $W^\top(\operatorname{diag}p - pp^\top)W + \mu I \preceq
    (\beta/2 + \mu)I$.
    """

    learning_rate: float | None = None

    name: ClassVar[str] = "gd"
    default_max_steps: ClassVar[int] = 50_000
    _data_fields: ClassVar[tuple[str, ...]] = ("tol", "max_steps", "learning_rate")

    def __post_init__(self):
        super().__post_init__()
        if self.learning_rate is not None:
            object.__setattr__(self, "learning_rate", check_positive_real("learning_rate", self.learning_rate))

    def hyperparameters(self, beta, weight_decay):
        rate = 1.0 / (0.5 * beta + weight_decay) if self.learning_rate is None else self.learning_rate
        return {"learning_rate": rate}

    def make_transform(self, hyper):
        return optax.with_extra_args_support(optax.sgd(hyper["learning_rate"]))


@no_type_check
@dataclasses.dataclass(frozen=True)
class Optax(_JointSolver):
    """Any optax transformation, e.g. ``ufm.Optax(optax.lion(1e-3), max_steps=5000)``.

    The transformation is part of the compiled program: reuse the same object across solves to
    compile once. Transformations that take ``value``, ``grad`` and ``value_fn`` in ``update``
    (line searches, such as ``optax.lbfgs()``) receive them.
    """

    transform: optax.GradientTransformation
    label: str = "optax"

    name: ClassVar[str] = "optax"
    default_max_steps: ClassVar[int] = 10_000

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.transform, optax.GradientTransformation):
            raise TypeError(
                f"transform must be an optax.GradientTransformation, got {type(self.transform).__name__}"
            )
        if not isinstance(self.label, str) or not self.label:
            raise TypeError(f"label must be a non-empty string, got {self.label!r}")

    def make_transform(self, hyper):
        return optax.with_extra_args_support(self.transform)

    def options(self):
        return {"solver": self.label, "tol": self.tol, "max_steps": self.max_steps, "transform": repr(self.transform)}


SOLVERS: dict[str, type[AbstractSolver]] = {
    "newton": Newton,
    "lbfgs": LBFGS,
    "adam": Adam,
    "gd": GradientDescent,
}


@no_type_check
def as_solver(
    method: str | AbstractSolver,
    tol: float | None = None,
    max_steps: int | None = None,
    learning_rate: float | None = None,
) -> AbstractSolver:
    """A solver object from a name (``"newton"``, ``"lbfgs"``, ``"adam"``, ``"gd"``) or a solver
    object, with ``tol``, ``max_steps`` and ``learning_rate`` overriding its own when given."""
    changes: dict[str, Any] = {}
    if tol is not None:
        changes["tol"] = tol
    if max_steps is not None:
        changes["max_steps"] = max_steps
    if isinstance(method, str):
        if method not in SOLVERS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(SOLVERS)}")
        cls = SOLVERS[method]
    elif isinstance(method, AbstractSolver):
        cls = type(method)
    else:
        raise TypeError(
            f"method must be one of {', '.join(SOLVERS)} or a solver object such as ufm.Newton(), "
            f"got {type(method).__name__}"
        )
    if learning_rate is not None:
        if not any(f.name == "learning_rate" for f in dataclasses.fields(cls)):
            raise ValueError(f"learning_rate applies to adam and gd only, not to {cls.name}")
        changes["learning_rate"] = learning_rate
    if isinstance(method, str):
        return cls(**changes)
    return dataclasses.replace(method, **changes)
