"""How one query's (ε, δ) becomes a charge, and how charges compose.

Two accountings are supported:

* ``pure``: charges are (ε, δ) pairs composed by basic composition: the sums of
  ε and of δ must stay within the grant. ``rho`` is 0 in pure costs; the ledger
  never reads it.
* ``zcdp``: a query asking for (ε, δ) is run as a ρ-zCDP mechanism with the
  largest ρ whose conversion gives (ε, δ)-DP; charges sum ρ, and a grant
  (ε_B, δ_B) holds the largest ρ_B that converts back to (ε_B, δ_B)-DP
  (Bun & Steinke 2016, Prop. 1.3: ρ-zCDP ⇒ (ρ + 2√(ρ ln(1/δ)), δ)-DP).
  Composition of zCDP is additive in ρ, so many small queries cost far less ε
  than under pure composition.

  A query with partition selection is (ρ, δ_add)-approximately zCDP (Bun &
  Steinke 2016, Def. 8.1): its Gaussian noise is ρ-zCDP except on an event of
  probability at most δ_add (a group only one person creates being released).
  Its cost carries that ``delta_add``; it asks for (ε, δ) and gets
  ρ = rho_for(ε, δ − δ_add), because (ρ, δ_add)-approximate zCDP implies
  (ρ + 2√(ρ ln(1/δ')), δ_add + δ')-DP for every δ' > 0 (ibid., §8: the
  conversion of Prop. 1.3 applied off the δ_add event). Approximate zCDP
  composes by adding the ρ's and adding the δ's, so the ledger sums both,
  and a grant (ε_B, δ_B) holds Σρ ≤ rho_for(ε_B, δ_B − Σδ_add) while
  Σδ_add < δ_B (see :func:`capacity_for`).

The ρ formulas involve logarithms and square roots, so ρ is computed with
``decimal`` at 60 significant digits and then rounded in the safe direction
to a 40-digit decimal, which becomes an exact Fraction: rounded DOWN for a
query (its mechanism uses this ρ, and a smaller ρ means more noise) and DOWN
for a budget's capacity (a smaller capacity can only refuse more). After that,
all comparisons are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from accountant.budget import format_fraction, to_fraction
from accountant.errors import InvalidParameter

_WORK = Context(prec=60)
_KEEP_DIGITS = 40
# Relative slack covering every rounding error of the 60-digit computation
# (each operation is correctly rounded, so errors are ~1e-59 per step).
_SLACK = Decimal("1e-50")

Rounding = Literal["up", "down"]


class Accounting(StrEnum):
    """How charges compose; fixed for the life of a ledger."""

    PURE = "pure"
    ZCDP = "zcdp"


@dataclass(frozen=True)
class Cost:
    """What one query charges.

    ``epsilon`` and ``delta`` are what the analyst asked for (and what is shown
    as charged); under zCDP ``rho`` is what is actually composed and what the
    query's mechanisms must consume in total, and ``delta_add`` the part of
    ``delta`` spent additively (partition selection), which the zCDP ledger
    sums beside ρ. ``accounting`` says which the ledger sums and how
    :func:`split` divides the cost. Under pure accounting all of δ is additive
    already (the ledger sums it), so ``rho`` and ``delta_add`` are 0.
    """

    epsilon: Fraction
    delta: Fraction
    rho: Fraction
    accounting: Accounting
    delta_add: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        for name in ("epsilon", "delta", "rho", "delta_add"):
            value = getattr(self, name)
            if not isinstance(value, Fraction) or value < 0:
                raise InvalidParameter(f"Cost.{name} must be a Fraction >= 0, got {value!r}")
        if self.accounting is Accounting.PURE and (self.rho != 0 or self.delta_add != 0):
            raise InvalidParameter(
                "a pure cost composes ε and δ; its rho must be 0, and its delta_add too "
                "(all of a pure δ is summed additively already)"
            )
        if self.delta_add > 0 and self.delta_add >= self.delta:
            raise InvalidParameter(
                f"Cost.delta_add {format_fraction(self.delta_add)} must be below the query's "
                f"delta {format_fraction(self.delta)}: the rest converts rho to epsilon"
            )
        if self.accounting is Accounting.ZCDP and self.rho == 0 and self.epsilon > 0:
            raise InvalidParameter("a zCDP cost with epsilon > 0 needs rho > 0")


def cost_of(
    accounting: Accounting, epsilon: object, delta: object, delta_add: object = 0
) -> Cost:
    """The charge for one query that asks for (ε, δ), ``delta_add`` of it additive.

    zCDP needs δ > 0: with δ = 0, ρ-zCDP gives no finite ε, so the query (or
    the deployment's default δ) must name a positive δ. Under zCDP a positive
    ``delta_add`` (0 ≤ δ_add < δ) leaves δ − δ_add to convert ρ into ε:
    ρ = rho_for(ε, δ − δ_add). Under pure accounting all of δ is summed
    additively anyway, so ``delta_add`` changes nothing and is not recorded.
    """
    eps = to_fraction(epsilon)
    dlt = to_fraction(delta)
    add = to_fraction(delta_add)
    if eps < 0 or not 0 <= dlt < 1:
        raise InvalidParameter(
            f"need epsilon >= 0 and 0 <= delta < 1, got ({format_fraction(eps)}, "
            f"{format_fraction(dlt)})"
        )
    if add < 0 or (add > 0 and add >= dlt):
        raise InvalidParameter(
            f"need 0 <= delta_add < delta, got delta_add = {format_fraction(add)} for "
            f"delta = {format_fraction(dlt)}"
        )
    accounting = Accounting(accounting)
    if accounting is Accounting.PURE:
        return Cost(eps, dlt, Fraction(0), accounting)
    return Cost(eps, dlt, rho_for(eps, dlt - add), accounting, add)


def capacity_for(epsilon: Fraction, delta: Fraction, delta_add: Fraction) -> Fraction | None:
    """The ρ a zCDP grant (ε_B, δ_B) holds once Σδ_add of its δ was spent additively.

    An account of total ρ and additive δ_add is (ρ + 2√(ρ ln(1/δ')), δ_add + δ')-DP
    for every δ' > 0; with δ' = δ_B − δ_add it stays within (ε_B, δ_B) exactly
    when ρ ≤ rho_for(ε_B, δ_B − δ_add) (rounded down, like every capacity).
    None when δ_add ≥ δ_B: no ρ at all fits then, and no more additive δ either.
    """
    if delta_add >= delta:
        return None
    if epsilon == 0:
        return Fraction(0)
    return rho_for(epsilon, delta - delta_add)


def rho_for(epsilon: Fraction, delta: Fraction) -> Fraction:
    """Largest ρ with ρ + 2√(ρ·ln(1/δ)) ≤ ε, rounded down.

    Solving for √ρ gives ρ = (√(ε + L) − √L)² with L = ln(1/δ); it is
    evaluated as ε² / (√(ε + L) + √L)², which has no cancellation. Used both
    for a query's ρ and for a budget's capacity ρ_B; both must round down.
    """
    if delta <= 0:
        raise InvalidParameter(
            "zCDP accounting needs delta > 0: rho-zCDP implies (epsilon, delta)-DP only "
            "for delta > 0; set a positive delta for the query or the budget"
        )
    if delta >= 1:
        raise InvalidParameter(f"delta must be < 1, got {format_fraction(delta)}")
    if epsilon == 0:
        return Fraction(0)
    ctx = _WORK
    eps = _dec(epsilon)
    log_inv = ctx.ln(ctx.divide(1, _dec(delta)))
    root_sum = ctx.add(ctx.sqrt(ctx.add(eps, log_inv)), ctx.sqrt(log_inv))
    rho = ctx.divide(ctx.multiply(eps, eps), ctx.multiply(root_sum, root_sum))
    return _round(rho, "down")


def epsilon_from_rho(rho: Fraction, delta: Fraction, rounding: Rounding) -> Fraction:
    """ε = ρ + 2√(ρ·ln(1/δ)): the (ε, δ)-DP that ρ-zCDP implies.

    ``rounding="up"`` when reporting what was spent (never understate a cost),
    ``"down"`` when reporting what remains (never overstate room).
    """
    if delta <= 0 or delta >= 1:
        raise InvalidParameter(
            f"converting rho to epsilon needs 0 < delta < 1, got {format_fraction(delta)}"
        )
    if rho < 0:
        raise InvalidParameter(f"rho must be >= 0, got {format_fraction(rho)}")
    if rho == 0:
        return Fraction(0)
    ctx = _WORK
    r = _dec(rho)
    log_inv = ctx.ln(ctx.divide(1, _dec(delta)))
    eps = ctx.add(r, ctx.multiply(2, ctx.sqrt(ctx.multiply(r, log_inv))))
    return _round(eps, rounding)


def split(cost_total: Cost, weights: Sequence[object]) -> list[Fraction]:
    """Divide a query's cost among its measurements in proportion to ``weights``.

    Returns ε shares under pure accounting and ρ shares under zCDP (what
    :func:`accountant.mechanisms.laplace_for` and ``gaussian_for`` take). The
    shares are exact Fractions, so they sum to exactly the total: basic
    composition of the measurements spends no more than was charged.
    """
    ws = [to_fraction(w) for w in weights]
    if not ws:
        raise InvalidParameter("split needs at least one weight")
    if any(w <= 0 for w in ws):
        raise InvalidParameter(f"split weights must be > 0, got {[format_fraction(w) for w in ws]}")
    total = cost_total.epsilon if cost_total.accounting is Accounting.PURE else cost_total.rho
    weight_sum = sum(ws, Fraction(0))
    return [total * w / weight_sum for w in ws]


def _dec(x: Fraction) -> Decimal:
    return _WORK.divide(Decimal(x.numerator), Decimal(x.denominator))


def _round(x: Decimal, rounding: Rounding) -> Fraction:
    """Push ``x`` past its computation error in the safe direction, then cut to 40 digits."""
    if rounding == "down":
        nudged = _WORK.multiply(x, _WORK.subtract(1, _SLACK))
        ctx = Context(prec=_KEEP_DIGITS, rounding=ROUND_FLOOR)
    else:
        nudged = _WORK.multiply(x, _WORK.add(1, _SLACK))
        ctx = Context(prec=_KEEP_DIGITS, rounding=ROUND_CEILING)
    return Fraction(ctx.plus(nudged))
