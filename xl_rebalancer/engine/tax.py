"""The year's capital gains as a return nets them (Schedule D, IRC §1211(b), §1212(b)).

Short-term and long-term results are netted within their term (this year's realized
gains and losses, less the loss carried in), then across terms; a net loss offsets
ordinary income up to $3,000 ($1,500 married filing separately) and the rest is
carried forward, keeping its character, by the Capital Loss Carryover Worksheet in the
Schedule D instructions (and IRS Pub. 550, "Capital Losses").

The tax is figured at two flat rates, the user's `st_tax_rate` (ordinary income, which
short-term gains and the $3,000 deduction are taxed at) and `lt_tax_rate`. What is not
modelled is said in docs/guide.md (5b): brackets, the 0%/15%/20% thresholds, the 3.8% net
investment income tax, state tax, 28% collectibles and unrecaptured §1250 gain, and a
taxable income too small to absorb the whole $3,000 (worksheet line 1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import Problem
from ..models.inputs import Portfolio, Settings, Transaction
from ..models.results import RealizedRow, Trade
from .lots import Term, holding_term
from .wash import broker_adjustment, recorded_washes

FilingStatus = Literal["single", "married_joint", "married_separate", "head_of_household"]

LOSS_LIMIT = 3_000.0  # IRC §1211(b)(1)
LOSS_LIMIT_SEPARATE = 1_500.0  # married filing separately, §1211(b) flush language


def loss_limit(status: str) -> float:
    return LOSS_LIMIT_SEPARATE if status == "married_separate" else LOSS_LIMIT


def carryover_rate(settings: Settings) -> float:
    """What a dollar of loss carried to next year is worth when a gain uses it up: the
    long-term rate, the least it saves when it offsets a gain later (a short-term
    carryover may save more, against short-term gains or ordinary income). Never above
    the short-term rate, so the objective stays convex (program/netting.py)."""
    return min(settings.lt_tax_rate, settings.st_tax_rate)


@dataclass(frozen=True)
class YearTax:
    """One tax year's capital position, after netting."""

    st_net: float  # Schedule D line 7: short-term, carryover included
    lt_net: float  # line 15: long-term, carryover included
    st_taxed: float  # net gain taxed at the short-term (ordinary) rate
    lt_taxed: float  # net gain taxed at the long-term rate
    loss_deducted: float  # net loss set against ordinary income (≤ $3,000), positive
    st_carryforward: float  # short-term loss carried to next year, positive
    lt_carryforward: float  # long-term loss carried to next year, positive
    tax: float  # on the capital items: gains × rates − deduction × ordinary rate

    @property
    def net(self) -> float:
        """Schedule D line 16."""
        return self.st_net + self.lt_net

    @property
    def carryforward(self) -> float:
        """All loss carried to next year, both terms."""
        return self.st_carryforward + self.lt_carryforward


def net_year(
    st_gain: float,
    lt_gain: float,
    *,
    st_carryover: float = 0.0,
    lt_carryover: float = 0.0,
    status: str = "single",
    st_rate: float,
    lt_rate: float,
) -> YearTax:
    """Net a year's realized gains (losses negative) and the losses carried in (positive).

    Across terms (Schedule D lines 16-21): a net short-term loss first reduces a
    long-term gain, a net long-term loss a short-term gain; what gain is left keeps the
    term of the side that had it. The carryover split follows the worksheet: the
    deduction uses short-term loss first, and a term's loss also absorbs the other
    term's net gain before anything of it is carried.
    """
    st_net = st_gain - st_carryover
    lt_net = lt_gain - lt_carryover
    net = st_net + lt_net
    if net >= 0:
        lt_taxed = max(0.0, min(lt_net, net))
        st_taxed = net - lt_taxed
        deducted = 0.0
    else:
        lt_taxed = st_taxed = 0.0
        deducted = min(loss_limit(status), -net)
    # Capital Loss Carryover Worksheet, lines 4-13 (line 4 = the deduction, taxable
    # income being assumed large enough to absorb it).
    st_loss, lt_loss = max(-st_net, 0.0), max(-lt_net, 0.0)
    st_carry = max(0.0, st_loss - (deducted + max(lt_net, 0.0)))
    lt_carry = max(0.0, lt_loss - (max(st_net, 0.0) + max(deducted - st_loss, 0.0)))
    tax = st_taxed * st_rate + lt_taxed * lt_rate - deducted * st_rate
    return YearTax(
        st_net=round(st_net, 2),
        lt_net=round(lt_net, 2),
        st_taxed=round(st_taxed, 2),
        lt_taxed=round(lt_taxed, 2),
        loss_deducted=round(deducted, 2),
        st_carryforward=round(st_carry, 2),
        lt_carryforward=round(lt_carry, 2),
        tax=round(tax, 2),
    )


def recorded_disallowed(portfolio: Portfolio) -> dict[int, float]:
    """The loss of each recorded sale (by Transactions row) that a recorded purchase
    washes (engine/wash.recorded_washes): not deductible this year, whether it moved
    into the replacement's basis or, bought in an IRA, is lost (Rev. Rul. 2008-5)."""
    out: dict[int, float] = defaultdict(float)
    for match in recorded_washes(portfolio):
        if match.sale.row is not None:
            out[match.sale.row] += match.disallowed_loss
    return dict(out)


def recorded_wash_notes(portfolio: Portfolio) -> list[Problem]:
    """A Log line for each tax lot that is the replacement in a recorded wash sale and
    carries no WashAdjustment yet: what to add to it (IRC §1091(d)), and the holding
    start to give it (§1223(3))."""
    lots = {(lot.account, lot.lot_id): lot for lot in portfolio.lots}
    moved: dict[tuple[str, str], list] = defaultdict(list)
    for match in recorded_washes(portfolio):
        key = match.purchase.lot_key
        if key in lots and not lots[key].wash_adjustment:
            moved[key].append(match)
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    notes = []
    for key, matches in moved.items():
        lot = lots[key]
        if lot.account not in taxable:
            continue
        amount = sum(m.disallowed_loss for m in matches)
        start = matches[0].holding_start
        notes.append(
            Problem(
                f"wash sale: {matches[0].sale.describe()} is washed by lot {lot.lot_id} of "
                f"{lot.symbol} in {lot.account}: add {amount:,.2f} to its CostBasis and its "
                f"WashAdjustment"
                + (f" and give it HoldingStart {start.isoformat()}" if start else ""),
                "TaxLots",
                None,
                "info",
                lot.row,
                "wash_adjustment",
            )
        )
    return notes


def disallowed_by_term(
    portfolio: Portfolio, disallowed: Mapping[int, float]
) -> tuple[float, float]:
    """Disallowed losses of this year's recorded sales (by Transactions row), as the
    short- and long-term amounts they take off the year's losses."""
    totals = {"ST": 0.0, "LT": 0.0}
    for t, term in year_sales(portfolio):
        if t.row in disallowed and term is not None and t.realized_gain is not None:
            totals[term] += disallowed[t.row]
    return round(totals["ST"], 2), round(totals["LT"], 2)


def year_to_date(portfolio: Portfolio) -> tuple[float, float, list[Problem]]:
    """Short- and long-term gains realized this tax year before the run.

    From the settings when given; otherwise from the Transactions sheet's SELL rows in
    taxable accounts dated in the valuation date's calendar year, up to it, whose
    RealizedGain is known (the term from Term, else from Acquired), less the part of a
    loss that a recorded purchase washes (it is in the replacement's basis, and counted
    when that is sold). Rows that cannot be placed are named in the Log rather than
    guessed.
    """
    st = portfolio.settings
    notes: list[Problem] = []
    if st.realized_st_ytd is not None or st.realized_lt_ytd is not None:
        return st.realized_st_ytd or 0.0, st.realized_lt_ytd or 0.0, notes
    totals = {"ST": 0.0, "LT": 0.0}
    for t, term in year_sales(portfolio):
        if t.realized_gain is None or term is None:
            notes.append(
                Problem(
                    f"Transactions row {t.row}: SELL {t.symbol} on {t.date} is left out of "
                    "the year's realized gains (give its RealizedGain and Term or Acquired)",
                    "Transactions",
                    None,
                    "warning",
                )
            )
            continue
        totals[term] += t.realized_gain
    washed_st, washed_lt = disallowed_by_term(portfolio, recorded_disallowed(portfolio))
    return round(totals["ST"] + washed_st, 2), round(totals["LT"] + washed_lt, 2), notes


def year_sales(portfolio: Portfolio) -> list[tuple[Transaction, Term | None]]:
    """Transactions' SELL rows in taxable accounts in the valuation date's calendar year,
    up to it, in date order, each with its term (from Term, else from Acquired)."""
    valuation = portfolio.settings.valuation_date
    assert valuation is not None
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    return [
        (t, t.term or (holding_term(t.acquired, t.date) if t.acquired else None))
        for t in sorted(portfolio.transactions, key=lambda t: (t.date, t.row or 0))
        if t.action == "SELL"
        and t.account in taxable
        and t.date.year == valuation.year
        and t.date <= valuation
    ]


def sales_after_valuation(portfolio: Portfolio) -> list[Transaction]:
    """Taxable sales on Transactions dated after the valuation date: year_sales leaves
    them out (the run is as of that date), and the user must hear so: a fill recorded
    today is one of them until valuation_date moves on."""
    valuation = portfolio.settings.valuation_date
    if valuation is None:
        return []
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    return [
        t
        for t in portfolio.transactions
        if t.action == "SELL" and t.account in taxable and t.date > valuation
    ]


def year_tax(portfolio: Portfolio, st_gain: float, lt_gain: float) -> YearTax:
    """The year netted with the settings' carryovers, filing status and rates."""
    st = portfolio.settings
    return net_year(
        st_gain,
        lt_gain,
        st_carryover=st.st_loss_carryover,
        lt_carryover=st.lt_loss_carryover,
        status=st.filing_status,
        st_rate=st.st_tax_rate,
        lt_rate=st.lt_tax_rate,
    )


def realized_rows(
    portfolio: Portfolio,
    trades: Sequence[Trade] = (),
    run_disallowed: Mapping[int, float] | None = None,
) -> list[RealizedRow]:
    """The tax year's sales in taxable accounts, as Form 8949 lists them, then each
    Part's totals (what Schedule D lines 1b-3 and 8b-10 take).

    Recorded sales come from Transactions (this calendar year, up to the valuation
    date); this run's from its SELL rows, whose proceeds are net of the estimated cost
    and whose disallowed wash-sale loss is column (g) with code W (Form 8949
    instructions, "Column (f)—Code" and "Column (g)—Adjustment"). A recorded sale's
    proceeds are net of its selling costs too (what its gain falls short of shares ×
    price less basis), and its code W adjustment is what its broker already took (what
    the gain exceeds that by), plus what a recorded purchase or this run's buy
    (`run_disallowed`, by Transactions row) washes: every row has (d) − (e) + (g) = (h).
    """
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    washed: dict[int, float] = defaultdict(float, recorded_disallowed(portfolio))
    for row, amount in (run_disallowed or {}).items():
        washed[row] += amount
    rows: list[RealizedRow] = []
    for t, term in year_sales(portfolio):
        proceeds = round(t.shares * t.price, 2) if t.price is not None else None
        basis = t.cost_basis
        gain = t.realized_gain
        adjustment = broker_adjustment(t)
        if basis is None and proceeds is not None and gain is not None:
            basis = round(proceeds - gain, 2)
        if proceeds is not None and basis is not None and gain is not None and not adjustment:
            proceeds = round(basis + gain, 2)  # net of the selling costs
        if gain is None and proceeds is not None and basis is not None:
            gain = round(proceeds - basis, 2)
        moved = round(washed.get(t.row, 0.0), 2) if t.row is not None else 0.0
        if moved and gain is not None:
            gain = round(gain + moved, 2)
            adjustment = round(adjustment + moved, 2)
        rows.append(
            RealizedRow(
                part=_PART.get(term or "", ""),
                description=f"{t.shares:g} sh. {t.symbol}",
                account=t.account,
                date_acquired=t.acquired,
                date_sold=t.date,
                proceeds=proceeds or 0.0,
                cost_basis=basis,
                code="W" if adjustment else None,
                adjustment=adjustment or None,
                gain_loss=gain,
                source=f"Transactions row {t.row}" if t.row else "Transactions",
            )
        )
    for i, t in enumerate(trades):
        if t.action != "SELL" or t.account not in taxable:
            continue
        proceeds = round(t.value - t.est_cost, 2)
        gain = t.realized_gain
        adjustment = None
        if gain is not None and t.cost_basis is not None:
            moved = round(gain - (proceeds - t.cost_basis), 2)
            adjustment = moved if moved > 0.005 else None
        rows.append(
            RealizedRow(
                part=_PART.get(t.term or "", ""),
                description=f"{t.shares:g} sh. {t.symbol}",
                account=t.account,
                date_acquired=t.acquired,
                date_sold=valuation,
                proceeds=proceeds,
                cost_basis=t.cost_basis,
                code="W" if adjustment else None,
                adjustment=adjustment,
                gain_loss=gain,
                source=f"this run, Trades row {i + 2}" + (f", lot {t.lot_id}" if t.lot_id else ""),
            )
        )
    totals = []
    for part, label in (("I", "short-term"), ("II", "long-term")):
        members = [r for r in rows if r.part == part]
        if not members:
            continue
        totals.append(
            RealizedRow(
                part=part,
                description=f"Total Part {part} ({label}): to Schedule D, Part {part}",
                account="",
                date_acquired=None,
                date_sold=None,
                proceeds=round(sum(r.proceeds for r in members), 2),
                cost_basis=round(sum(r.cost_basis or 0.0 for r in members), 2),
                code=None,
                adjustment=round(sum(r.adjustment or 0.0 for r in members), 2) or None,
                gain_loss=round(sum(r.gain_loss or 0.0 for r in members), 2),
                source=f"{len(members)} sale(s)",
            )
        )
    return rows + totals


_PART = {"ST": "I", "LT": "II"}
