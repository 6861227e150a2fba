r"""Shared symbols, the model in sympy, assertion helpers and a small Markdown/LaTeX writer.

Everything here is pure sympy (mpmath, which sympy depends on, is reached only through sympy).
The model is written once, here, and every derivation (and ``derivations.residuals``, which the
tests evaluate at the values :mod:`ufm.analytic` returns) builds on these definitions:

* the simplex ETF :func:`etf_matrix` and the algebra :class:`IJ` of matrices $aI + b\mathbf{1}\mathbf{1}^\top$
  for symbolic $K$;
* the per-sample loss :func:`per_sample_loss` and the stationarity residual
  :func:`stationarity_residual` $\gamma z - (y - p)$, for concrete vectors and for "typed" logit
  vectors (:class:`Block`) whose coordinates take a few values with symbolic multiplicities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import sympy as sp

# ----------------------------------------------------------------------------------------------
# Symbols (names chosen so that sympy.latex prints the paper's notation)
# ----------------------------------------------------------------------------------------------
K = sp.Symbol("K", positive=True, integer=True)  # number of classes, K >= 2
lam = sp.Symbol("lambda", nonnegative=True)  # mixing coefficient in [0, 1]
gamma = sp.Symbol("gamma", positive=True)  # relative decay mu / beta
mu = sp.Symbol("mu", positive=True)  # weight decay per feature
beta = sp.Symbol("beta", positive=True)  # s^2 K / (K - 1)
s = sp.Symbol("s", positive=True)  # row norm of the classifier
t = sp.Symbol("t", real=True)  # same-class margin
u, v = sp.symbols("u v", real=True)  # different-class margins
x = sp.Symbol("x", real=True)  # K = 2 margin
q = sp.Symbol("q", positive=True)  # 1 / (e^u + e^v + K - 2)
eps = sp.Symbol("epsilon", positive=True)  # 1 / gamma in the strong-decay expansion

CONCRETE_K = (2, 3, 4, 5, 6)  # where a statement is checked class count by class count


class DerivationError(AssertionError):
    """An identity a derivation asserts does not hold."""


def etf_beta(k, scale=s):
    r"""$\beta = s^2K/(K-1)$."""
    return scale**2 * sp.sympify(k) / (sp.sympify(k) - 1)


# ----------------------------------------------------------------------------------------------
# Matrices a I + b J (J = 1 1^T) with symbolic K: J^2 = K J
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class IJ:
    r"""The $K\times K$ matrix $aI + bJ$, $J = \mathbf{1}\mathbf{1}^\top$, for symbolic $K$.

    Closed under products because $J^2 = KJ$; symmetric, so the transpose is itself.
    """

    a: sp.Expr
    b: sp.Expr

    def __mul__(self, other):
        if isinstance(other, IJ):
            return IJ(
                sp.expand(self.a * other.a),
                sp.expand(self.a * other.b + self.b * other.a + K * self.b * other.b),
            )
        return IJ(sp.expand(self.a * other), sp.expand(self.b * other))

    __rmul__ = __mul__

    def __sub__(self, other):
        return IJ(sp.expand(self.a - other.a), sp.expand(self.b - other.b))

    def is_zero(self) -> bool:
        return sp.simplify(self.a) == 0 and sp.simplify(self.b) == 0

    def diagonal(self):
        return sp.simplify(self.a + self.b)

    def off_diagonal(self):
        return sp.simplify(self.b)

    def times_ones(self):
        r"""$(aI + bJ)\mathbf{1} = (a + bK)\mathbf{1}$: the coefficient."""
        return sp.simplify(self.a + K * self.b)


IDENTITY = IJ(sp.Integer(1), sp.Integer(0))
CENTERING = IJ(sp.Integer(1), -1 / K)  # P = I - 11^T/K


def etf_factor():
    r"""$W = c\,P\,U^\top$ with $c = s\sqrt{K/(K-1)}$: the factor $c$ (symbolic $K$)."""
    return s * sp.sqrt(K / (K - 1))


def etf_matrix(k: int, scale=s) -> sp.Matrix:
    r"""The simplex ETF $W = s\sqrt{K/(K-1)}\,(I - \mathbf{1}\mathbf{1}^\top/K)$ ($d = K$, $U = I$).

    Any other orthonormal $U$ gives $WU'$ for an orthogonal change of feature coordinates, which
    changes none of the statements (they are invariant under rotations of feature space).
    """
    eye = sp.eye(k)
    ones = sp.ones(k, k)
    return scale * sp.sqrt(sp.Rational(k, k - 1)) * (eye - ones / k)


def centering_matrix(k: int) -> sp.Matrix:
    return sp.eye(k) - sp.ones(k, k) / k


# ----------------------------------------------------------------------------------------------
# The model: loss, softmax and stationarity (concrete vectors)
# ----------------------------------------------------------------------------------------------
def logsumexp(z: Sequence[sp.Expr]) -> sp.Expr:
    return sp.log(sp.Add(*[sp.exp(zk) for zk in z]))


def softmax(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    total = sp.Add(*[sp.exp(zk) for zk in z])
    return [sp.exp(zk) / total for zk in z]


def target(k: int, c: int, c2: int, mix=lam) -> list[sp.Expr]:
    r"""$y = \lambda e_c + (1-\lambda)e_{c'}$."""
    y = [sp.Integer(0)] * k
    y[c] += mix
    y[c2] += 1 - mix
    return y


def per_sample_loss(z: Sequence[sp.Expr], y: Sequence[sp.Expr]) -> sp.Expr:
    r"""$\ell = \operatorname{logsumexp}(z) - y^\top z$ at logits $z = Wh$."""
    return logsumexp(z) - sp.Add(*[yk * zk for yk, zk in zip(y, z)])


def stationarity_residual(z: Sequence[sp.Expr], y: Sequence[sp.Expr], relative_decay=gamma) -> list[sp.Expr]:
    r"""$\gamma z - (y - p)$, $p = \operatorname{softmax}(z)$: zero exactly at the optimum (centred $z$)."""
    p = softmax(z)
    return [relative_decay * zk - (yk - pk) for zk, yk, pk in zip(z, y, p)]


# ----------------------------------------------------------------------------------------------
# Typed logit vectors: a few distinct coordinates with symbolic multiplicities
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Block:
    """``multiplicity`` coordinates of a logit vector, all equal to ``logit``, with target ``target``."""

    logit: sp.Expr
    multiplicity: sp.Expr
    target: sp.Expr


def typed_partition(blocks: Sequence[Block]) -> sp.Expr:
    return sp.Add(*[b.multiplicity * sp.exp(b.logit) for b in blocks])


def typed_softmax(blocks: Sequence[Block]) -> list[sp.Expr]:
    total = typed_partition(blocks)
    return [sp.exp(b.logit) / total for b in blocks]


def typed_sum(blocks: Sequence[Block]) -> sp.Expr:
    return sp.Add(*[b.multiplicity * b.logit for b in blocks])


def typed_target_sum(blocks: Sequence[Block]) -> sp.Expr:
    return sp.Add(*[b.multiplicity * b.target for b in blocks])


def typed_sqnorm_centred(blocks: Sequence[Block]) -> sp.Expr:
    r"""$\|Pz\|^2 = \|z\|^2 - (\mathbf 1^\top z)^2/K$."""
    return sp.Add(*[b.multiplicity * b.logit**2 for b in blocks]) - typed_sum(blocks) ** 2 / K


def typed_loss(blocks: Sequence[Block]) -> sp.Expr:
    return sp.log(typed_partition(blocks)) - sp.Add(*[b.multiplicity * b.target * b.logit for b in blocks])


def typed_stationarity(blocks: Sequence[Block], relative_decay=gamma) -> list[sp.Expr]:
    r"""$\gamma z_j - (y_j - p_j)$ for each block $j$ (same formula as :func:`stationarity_residual`)."""
    p = typed_softmax(blocks)
    return [relative_decay * b.logit - (b.target - pj) for b, pj in zip(blocks, p)]


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------
def is_zero(expr: sp.Expr, simplifier: Callable[[sp.Expr], sp.Expr] = sp.simplify) -> bool:
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    return simplifier(expr) == 0


def numerically_zero(expr: sp.Expr, points: Sequence[dict], tol: float = 1e-40, digits: int = 60) -> bool:
    """``expr`` vanishes (to ``tol``, relative to 1) at every point, evaluated with ``digits`` digits."""
    for point in points:
        value = sp.N(sp.sympify(expr).subs(point), digits)
        if not abs(value) <= tol:
            return False
    return True


# ----------------------------------------------------------------------------------------------
# Markdown writer
# ----------------------------------------------------------------------------------------------
def tex(expr) -> str:
    """LaTeX of a sympy object, or a string passed through."""
    if isinstance(expr, str):
        return expr
    return sp.latex(expr)


class Section:
    """One derivation's part of ``docs/derivations.md``; also counts and lists what it asserted.

    Every :meth:`check` raises :class:`DerivationError` when its condition is false, so a derivation
    that finishes has asserted everything it lists.
    """

    def __init__(self, number: int, title: str, module: str):
        self.number = number
        self.title = title
        self.module = module
        self._blocks: list[str] = []
        self._pending: list[str] = []
        self.num_checks = 0
        self._result_count = 0

    # -- content -------------------------------------------------------------------------------
    def text(self, paragraph: str) -> None:
        self._blocks.append(paragraph.strip())

    def eq(self, *exprs) -> None:
        """A display equation (several are joined by commas/quads on one line)."""
        body = r",\qquad ".join(tex(e) for e in exprs)
        self._blocks.append("$$\n" + body + "\n$$")

    def result(self, title: str, statement: str, *exprs) -> str:
        """State a result (then derive it with text/eq/check calls)."""
        self._flush()
        self._result_count += 1
        label = f"{self.number}.{self._result_count}"
        self._blocks.append(f"### Result {label}: {title}")
        self._blocks.append(statement.strip())
        for e in exprs:
            self.eq(e)
        self._blocks.append("*Derivation.*")
        return label

    # -- assertions ----------------------------------------------------------------------------
    def check(self, ok: bool, description: str) -> None:
        if not ok:
            raise DerivationError(f"[{self.module}] failed: {description}")
        self.num_checks += 1
        self._pending.append(description)

    def check_zero(self, expr, description: str, simplifier=sp.simplify) -> None:
        self.check(is_zero(expr, simplifier), description)

    def _flush(self) -> None:
        if self._pending:
            items = "\n".join(f"- {d}" for d in self._pending)
            self._blocks.append("*Asserted by* `derivations/" + self.module + ".py`:\n\n" + items)
            self._pending = []

    def render(self) -> str:
        self._flush()
        return f"## {self.number}. {self.title}\n\n" + "\n\n".join(self._blocks) + "\n"


def run_standalone(derive: Callable[[], Section]) -> None:
    """Entry point of each ``dN_*.py`` script: derive, assert, print the Markdown section."""
    section = derive()
    print(section.render())
    print(f"<!-- {section.module}: {section.num_checks} identities asserted -->")
