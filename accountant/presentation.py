"""How a budget is shown to people: the share used, figures that add up, plain words.

One rule decides admission and one presentation follows from it, so that
``/v1/budget``, ``explain``, query answers, the CLI and refusals all say the same:

* **Share used** (:func:`share_used`): the part of a grant that the composed
  charges take, as the accounting composes them. A charge is admitted exactly
  when the share after it is at most 1 for the analyst and for the dataset
  (:func:`admits` is that test, and the ledger's only one).

  - pure: ``max(Σε / ε_B, Σδ / δ_B)`` (basic composition sums both).
  - zCDP: the ε that the composed (ρ, Σδ_add)-approximate zCDP gives at the
    δ the grant has left, ``ε(ρ) = ρ + 2√(ρ ln(1/(δ_B − Σδ_add)))`` (rounded
    up), over ε_B. ε(ρ) is increasing in ρ, and the capacity is
    ``rho_for(ε_B, δ_B − Σδ_add)`` (:func:`accountant.composition.capacity_for`),
    so share ≤ 1 ⇔ Σρ ≤ capacity; where the 40-digit roundings of the two
    conversions could disagree, the ρ comparison decides (a share is pinned to
    1, or just above it).

* **Spent** is then a true statement: the answers so far are together
  (spent ε, ε's δ)-DP, under zCDP at the grant's δ. Under zCDP the δ shown as
  spent is the additive δ partition selection used up (Σδ_add); the rest of
  the grant's δ is not used up by queries, it is what turns ρ into ε.

* **Remaining** is granted − spent as shown, so the two always add up to the
  grant. Pure figures are exact sums of what people wrote; the zCDP ε is
  rounded up (to six significant digits), so remaining is rounded down
  (SPEC §4.5). Under zCDP composition is
  subadditive in ε, so a query asking for at most the remaining ε and δ
  (without partition selection) always fits: ε(ρ_s + ρ_q) ≤ ε(ρ_s) + ε(ρ_q).

A share is None when it cannot be a share: something was spent of a grant of
0 (revoked, or never had any δ). Nothing is admitted then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

from accountant.budget import Budget
from accountant.composition import Accounting, capacity_for, epsilon_from_rho

# zCDP ε is shown to six significant digits (at least 1e-9); shares to 1e-6.
_DIGITS = 6
_SHARE_QUANTUM = Fraction(1, 10**6)
_FLOOR = Fraction(1, 10**9)
# Just above 1: the share of a spend that the exact ρ test refuses although its
# rounded ε reads as at most ε_B (only within 1e-40 of the capacity).
_JUST_OVER = Fraction(1) + Fraction(1, 10**40)


class Totals(Protocol):
    """Running totals of composed charges (the ledger's ``Spent``)."""

    @property
    def epsilon(self) -> Fraction: ...
    @property
    def delta(self) -> Fraction: ...
    @property
    def rho(self) -> Fraction: ...
    @property
    def delta_add(self) -> Fraction: ...


@dataclass(frozen=True)
class Shown:
    """A grant and its spend as people see it: ``spent + remaining == granted``
    for ε and for δ whenever ``share`` is at most 1 (over it, remaining is 0).

    ``share`` is exact (None: not a share, see the module doc); ``share_shown``
    is it rounded up to 1e-6, so ``share_shown <= 1`` exactly when admitted.
    ``stated_at`` is the δ at which the spent ε holds (zCDP: the grant's δ;
    pure: the spent δ).
    """

    accounting: Accounting
    granted: Budget
    spent: Budget
    remaining: Budget
    share: Fraction | None
    share_shown: Fraction | None
    stated_at: Fraction

    @property
    def over(self) -> bool:
        return self.share is None or self.share > 1


def share_used(accounting: Accounting, grant: Budget, totals: Totals) -> Fraction | None:
    """The part of ``grant`` that ``totals`` take (see the module doc)."""
    if accounting is Accounting.PURE:
        parts = [_ratio(totals.epsilon, grant.epsilon), _ratio(totals.delta, grant.delta)]
        if any(p is None for p in parts):
            return None
        return max(p for p in parts if p is not None)
    if totals.rho == 0 and totals.delta_add == 0:
        return Fraction(0)
    cap = capacity_for(grant.epsilon, grant.delta, totals.delta_add)
    if cap is None or grant.epsilon == 0:
        return None
    share = _zcdp_epsilon(totals, grant) / grant.epsilon
    if totals.rho <= cap:
        return min(share, Fraction(1))
    return max(share, _JUST_OVER)


def admits(accounting: Accounting, grant: Budget, after: Totals) -> bool:
    """Whether totals ``after`` a charge stay within ``grant``: share ≤ 1."""
    share = share_used(accounting, grant, after)
    return share is not None and share <= 1


def present(accounting: Accounting, grant: Budget, totals: Totals) -> Shown:
    """The figures people see for ``grant`` after ``totals`` (see the module doc)."""
    share = share_used(accounting, grant, totals)
    within = share is not None and share <= 1
    if accounting is Accounting.PURE:
        exact = Budget(totals.epsilon, totals.delta)
        stated_at = totals.delta
    else:
        eps = Fraction(0) if totals.rho == 0 else _zcdp_epsilon(totals, grant)
        exact = Budget(eps, totals.delta_add)
        stated_at = grant.delta
    spent_eps, spent_delta = exact.epsilon, exact.delta
    if accounting is Accounting.ZCDP:
        spent_eps = _up(spent_eps)
    if within:  # the true figures are within the grant; don't let the rounding say otherwise
        spent_eps, spent_delta = min(spent_eps, grant.epsilon), min(spent_delta, grant.delta)
    if within:
        remaining = Budget(grant.epsilon - spent_eps, grant.delta - spent_delta)
    else:
        remaining = Budget.zero()
    shown = None if share is None else _ceil(share, _SHARE_QUANTUM)
    return Shown(accounting, grant, Budget(spent_eps, spent_delta), remaining, share, shown,
                 stated_at)


def expired(shown: Shown) -> Shown:
    """An expired grant: what was spent stays, nothing remains."""
    return Shown(shown.accounting, shown.granted, shown.spent, Budget.zero(), shown.share,
                 shown.share_shown, shown.stated_at)


def share_text(share: Fraction | None) -> str:
    """A share as a percentage people read: ``42.14 %``, ``less than 0.01 %``."""
    if share is None:
        return "more than all"
    if share == 0:
        return "0 %"
    percent = share * 100
    if percent < Fraction(1, 100):
        return "less than 0.01 %"
    return f"{_decimal(_ceil(percent, Fraction(1, 100)))} %"


def number_text(x: Fraction) -> str:
    """A budget figure in a sentence: three significant digits (``1.26``, ``1e-06``)."""
    return f"{float(x):.3g}"


Whose = Literal["analyst", "dataset"]


def sentence(shown: Shown | None, whose: Whose, *, expired_at: str | None = None) -> str:
    """One sentence a non-expert reads correctly: budget is cumulative and never refills.
    ``shown`` is None for an analyst who never had a grant."""
    you = "You have" if whose == "analyst" else "All analysts together have"
    your = "your privacy budget" if whose == "analyst" else "the dataset-wide privacy budget"
    fix = ("ask a data owner for more" if whose == "analyst"
           else "only a data owner can raise it")
    if shown is None:
        return "You have no privacy budget yet: ask a data owner for a grant."
    g, s = shown.granted, shown.spent
    amounts = f"ε ≈ {number_text(s.epsilon)} of {number_text(g.epsilon)}"
    if shown.accounting is Accounting.ZCDP:
        amounts += f", at δ = {number_text(g.delta)}"
    elif g.delta > 0 or s.delta > 0:
        amounts += f"; δ ≈ {number_text(s.delta)} of {number_text(g.delta)}"
    if expired_at is not None:
        return (f"{you} used {share_text(shown.share)} of {your} ({amounts}); the grant "
                f"expired at {expired_at}, so nothing more can be spent on it: {fix}.")
    if g.epsilon == 0 and s.epsilon == 0:
        return f"{you} no privacy budget to spend: {fix}."
    if shown.over:
        return (f"{you} used more than {your} ({amounts}): it was lowered after the spending, "
                f"so nothing more can be spent: {fix}.")
    return (f"{you} used {share_text(shown.share)} of {your} ({amounts}). "
            f"It never refills: {fix}.")


def charge_share(before: Fraction | None, after: Fraction | None) -> Fraction | None:
    """The part of a grant one charge took, rounded up like every cost."""
    if before is None or after is None:
        return None
    return _ceil(after - before, _SHARE_QUANTUM)


def _zcdp_epsilon(totals: Totals, grant: Budget) -> Fraction:
    """ε of the composed spend at the δ the grant has left (rounded up); at the
    grant's δ when the additive δ alone used it all up."""
    conversion = grant.delta - totals.delta_add
    if conversion <= 0:
        conversion = grant.delta
    return epsilon_from_rho(totals.rho, conversion, "up")


def _ratio(spent: Fraction, granted: Fraction) -> Fraction | None:
    if granted == 0:
        return Fraction(0) if spent == 0 else None
    return spent / granted


def _up(x: Fraction) -> Fraction:
    """``x`` rounded up to six significant digits, and to at least 1e-9.

    The grid depends on ``x`` alone (not on the grant), so a larger spend never
    shows as less, whatever an owner does to the grant; the floor keeps
    ``granted - spent`` a decimal that a JSON float carries exactly.
    """
    if x == 0:
        return x
    exponent = math.floor(math.log10(x))  # float: close enough to pick a grid
    quantum = max(Fraction(10) ** (exponent - _DIGITS + 1), _FLOOR)
    return _ceil(x, quantum)


def _ceil(x: Fraction, quantum: Fraction) -> Fraction:
    return math.ceil(x / quantum) * quantum


def _decimal(x: Fraction) -> str:
    text = f"{float(x):.2f}"
    return text.rstrip("0").rstrip(".")
