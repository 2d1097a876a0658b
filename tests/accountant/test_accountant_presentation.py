"""What people see of a budget: a share that is exactly what admission checks,
and spent + remaining = granted, under both accountings."""

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from accountant import Accounting, Budget, capacity_for, cost_of
from accountant.ledger.records import Spent
from accountant.presentation import admits, present, sentence, share_text, share_used

epsilons = st.decimals(min_value="0.001", max_value="2", places=3).map(Fraction)
deltas = st.sampled_from([Fraction(1, 10**7), Fraction(5, 10**7), Fraction(1, 10**6)])


@st.composite
def charges(draw, accounting):
    eps, dlt = draw(epsilons), draw(deltas)
    if accounting is Accounting.ZCDP:  # δ converts ρ; with selection, part of it is additive
        add = dlt * draw(st.integers(1, 63)) / 64 if draw(st.booleans()) else 0
        return cost_of(accounting, eps, dlt, add)
    return cost_of(accounting, eps, draw(st.sampled_from([Fraction(0), dlt])))


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(list(Accounting)),
       st.decimals(min_value="0", max_value="5", places=2).map(Fraction),
       st.sampled_from([Fraction(1, 10**6), Fraction(1, 10**5)]))
def test_share_is_what_admission_checks_and_figures_add_up(data, accounting, eps_b, dlt_b):
    grant = Budget(eps_b, dlt_b)
    totals = Spent()
    for _ in range(data.draw(st.integers(1, 12))):
        cost = data.draw(charges(accounting))
        after = totals.plus(cost)
        share = share_used(accounting, grant, after)
        # admission, computed from the accounting's own quantities, independently
        if accounting is Accounting.PURE:
            fits = after.epsilon <= grant.epsilon and after.delta <= grant.delta
        else:
            cap = capacity_for(grant.epsilon, grant.delta, after.delta_add)
            fits = cap is not None and after.rho <= cap
        assert admits(accounting, grant, after) is fits
        assert (share is not None and share <= 1) is fits
        shown = present(accounting, grant, after)
        assert (shown.share_shown is not None and shown.share_shown <= 1) is fits
        if fits:
            totals = after
            assert shown.spent.epsilon + shown.remaining.epsilon == grant.epsilon
            assert shown.spent.delta + shown.remaining.delta == grant.delta
            # a JSON float carries every figure exactly, so the sum holds as shown too
            for x in (shown.spent.epsilon, shown.remaining.epsilon, shown.spent.delta,
                      shown.remaining.delta):
                assert Fraction(repr(float(x))) == x
        else:
            assert shown.remaining == Budget.zero()


def test_pure_shows_exact_sums_and_the_binding_share():
    grant = Budget.of(3, 1e-6)
    totals = Spent()
    for _ in range(10):
        totals = totals.plus(cost_of(Accounting.PURE, "0.1", "1e-7"))
    shown = present(Accounting.PURE, grant, totals)
    assert shown.spent == Budget.of(1, 1e-6) and shown.remaining == Budget.of(2, 0)
    assert shown.share == 1  # δ binds: all of it is spent
    assert "100 %" in sentence(shown, "analyst")


def test_zcdp_first_query_reads_as_its_epsilon_and_composition_is_cheaper():
    grant = Budget.of(3, 1e-6)
    one = cost_of(Accounting.ZCDP, 1, 1e-6)
    first = present(Accounting.ZCDP, grant, Spent().plus(one))
    assert abs(first.spent.epsilon - 1) < Fraction(1, 10**5)
    second = present(Accounting.ZCDP, grant, Spent().plus(one).plus(one))
    assert 1 < second.spent.epsilon < 2  # ρ adds up; ε grows like its square root
    assert second.spent.epsilon + second.remaining.epsilon == 3
    text = sentence(second, "analyst")
    assert text.startswith("You have used 47.49 % of your privacy budget (ε ≈ 1.42 of 3, "
                           "at δ = 1e-06).") and "never refills" in text


def test_shares_read_as_short_percentages():
    assert share_text(Fraction(0)) == "0 %"
    assert share_text(Fraction(1, 3)) == "33.34 %"  # costs round up
    assert share_text(Fraction(1, 10**7)) == "less than 0.01 %"
    assert share_text(Fraction(1)) == "100 %"
    assert share_text(None) == "more than all"


def test_a_revoked_grant_has_no_share_and_admits_nothing():
    spent = Spent().plus(cost_of(Accounting.ZCDP, "0.5", "1e-7"))
    zero = Budget.of(0, 1e-6)
    assert share_used(Accounting.ZCDP, zero, spent) is None
    assert not admits(Accounting.ZCDP, zero, spent)
    shown = present(Accounting.ZCDP, zero, spent)
    assert shown.remaining == Budget.zero() and shown.spent.epsilon > 0
    assert "more than your privacy budget" in sentence(shown, "analyst")


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from(list(Accounting)))
def test_a_query_asking_for_at_most_what_remains_fits(data, accounting):
    """What `remaining` promises: at most its ε and δ (zCDP: no selection) is admitted."""
    grant = Budget(data.draw(st.decimals(min_value="0.1", max_value="5", places=2).map(Fraction)),
                   data.draw(st.sampled_from([Fraction(1, 10**6), Fraction(1, 10**5)])))
    totals = Spent()
    for _ in range(data.draw(st.integers(0, 6))):
        after = totals.plus(data.draw(charges(accounting)))
        if admits(accounting, grant, after):
            totals = after
    left = present(accounting, grant, totals).remaining
    fraction = data.draw(st.sampled_from([Fraction(1), Fraction(99, 100), Fraction(1, 2)]))
    eps = left.epsilon * fraction
    if eps == 0:
        return
    dlt = left.delta * data.draw(st.sampled_from([Fraction(1), Fraction(1, 3)]))
    if accounting is Accounting.ZCDP and dlt == 0:
        return
    assert admits(accounting, grant, totals.plus(cost_of(accounting, eps, dlt))), (left, totals)
