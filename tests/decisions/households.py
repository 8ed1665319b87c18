"""Generated households for the decision checker (issue 44): what an adviser's book holds.

Each seed gives one household: 2-5 accounts (the first taxable, the others taxable, a
traditional IRA or a Roth), 5-25 funds from seven asset classes, years of tax lots in the
taxable accounts (some at a loss), deposits and withdrawals on CashFlows, loss
carryovers and gains realized earlier in the year, recent purchases on record (in the
IRAs too) that keep loss lots wash-blocked, recent loss sales that block buying a fund
back, substantially identical funds declared on the Identical sheet (the three S&P 500
funds), and, in households with symbol targets, a Substitute on every Targets row.

Built only from the input models, as a user would type the sheets.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot
from xl_rebalancer.models.inputs import CashFlow, Identical, Transaction

# Funds per asset class; the first three US funds all track the S&P 500.
UNIVERSE: dict[str, list[str]] = {
    "US Stocks": ["VOO", "IVV", "SPY", "VTI", "ITOT", "SCHB", "SCHX"],
    "International": ["VXUS", "IXUS", "IEFA", "VEA", "SCHF"],
    "Bonds": ["BND", "AGG", "SCHZ", "IUSB"],
    "TIPS": ["SCHP", "VTIP", "TIP"],
    "REIT": ["VNQ", "SCHH", "USRT"],
    "Small Cap": ["VB", "IJR", "SCHA"],
    "Emerging": ["VWO", "IEMG"],
}
TWINS = ("VOO", "IVV", "SPY")  # declared substantially identical (Identical sheet)
LOCATION = {"Bonds": "tax_deferred", "TIPS": "tax_deferred", "REIT": "tax_deferred"}


@dataclass(frozen=True)
class Case:
    """One generated household, its prices, and what the generator put into it."""

    seed: int
    portfolio: Portfolio
    prices: dict[str, float]
    by_class: bool  # asset-class targets (else symbol targets with Substitutes)
    classes: dict[str, str]  # fund → its asset class (symbol mode: its line)

    @property
    def flows(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for flow in self.portfolio.cash_flows:
            out[flow.account] = out.get(flow.account, 0.0) + flow.amount
        return out


def household(seed: int, *, max_funds: int = 25) -> Case:
    rng = random.Random(seed)
    valuation = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(40, 340))
    n_accounts = rng.randint(2, 5)
    kinds = ["taxable"] + [
        rng.choice(["taxable", "tax_deferred", "tax_exempt"]) for _ in range(n_accounts - 1)
    ]
    names = {"taxable": "Taxable", "tax_deferred": "IRA", "tax_exempt": "Roth"}
    accounts: list[Account] = []
    for i, kind in enumerate(kinds):
        accounts.append(
            Account(
                account=f"{names[kind]} {i + 1}",
                type=kind,
                cash=round(rng.choice([0.0, rng.uniform(0, 8_000), rng.uniform(0, 40_000)]), 2),
            )
        )

    by_class = rng.random() < 0.7
    n_funds = rng.randint(5, max_funds)
    classes = list(UNIVERSE)
    rng.shuffle(classes)
    n_classes = rng.randint(3, min(7, max(3, n_funds // 2)))
    chosen_classes = classes[:n_classes]
    funds: dict[str, list[str]] = {c: [] for c in chosen_classes}
    pool = [(c, s) for c in chosen_classes for s in UNIVERSE[c]]
    rng.shuffle(pool)
    for c in chosen_classes:  # two funds per class at least: a fund and its alternative
        for s in UNIVERSE[c][:2]:
            funds[c].append(s)
    for c, s in pool:
        if sum(len(v) for v in funds.values()) >= n_funds:
            break
        if s not in funds[c]:
            funds[c].append(s)
    prices = {s: round(rng.uniform(20, 450), 2) for fs in funds.values() for s in fs}

    # Holdings and lots: each fund in one to three accounts; the household worth
    # $150,000-$2,500,000 before the cash flows.
    scale = rng.uniform(150_000, 2_500_000)
    holdings: list[Holding] = []
    lots: list[TaxLot] = []
    transactions: list[Transaction] = []
    line_of: dict[str, str] = {}
    if by_class:
        line_of = {s: c for c, fs in funds.items() for s in fs}
        held_funds = [s for fs in funds.values() for s in fs]
    else:
        # Symbol targets: the first fund of each class is the Targets row, the second its
        # Substitute; the line's class is the row itself, so "one fund per class" reads
        # "the fund or its Substitute".
        held_funds = []
        for fs in funds.values():
            line_of[fs[0]] = fs[0]
            line_of[fs[1]] = fs[0]
            held_funds += fs[:2]
    # Target weights first; the holdings either sit near them (every line inside or just
    # outside its band, as a household kept in order does) or anywhere.
    lines = list(funds) if by_class else [fs[0] for fs in funds.values()]
    raw = [rng.uniform(0.3, 1.0) for _ in lines]
    cash_target = rng.choice([0.0, 0.0, 0.01, 0.02, 0.03])
    line_weight = {line: (1.0 - cash_target) * raw[i] / sum(raw) for i, line in enumerate(lines)}
    kept = rng.random() < 0.5
    weights: dict[str, float] = {}
    for line in lines:
        members = [s for s in held_funds if line_of[s] == line]
        split = [rng.uniform(0.2, 1.0) for _ in members]
        drift = rng.uniform(0.85, 1.15) if kept else rng.uniform(0.3, 1.7)
        for s, part in zip(members, split, strict=True):
            weights[s] = line_weight[line] * drift * part / sum(split)
    norm = sum(weights.values())
    for symbol in held_funds:
        if not by_class and line_of[symbol] != symbol and rng.random() < 0.5:
            continue  # the Substitute not always held
        value = scale * weights[symbol] / norm
        where = rng.sample(accounts, k=min(len(accounts), rng.randint(1, 3)))
        for account in where:
            shares = max(1, int(value / len(where) / prices[symbol]))
            holdings.append(
                Holding(
                    account=account.account,
                    symbol=symbol,
                    shares=shares,
                    asset_class=line_of[symbol],
                )
            )
            if account.type != "taxable":
                continue
            left, n = shares, 0
            n_lots = rng.randint(1, 6)
            while left > 0:
                n += 1
                part = left if n == n_lots else max(1, int(left * rng.uniform(0.1, 0.6)))
                part = min(part, left)
                recent = rng.random() < 0.12
                acquired = valuation - dt.timedelta(
                    days=rng.randint(3, 28) if recent else rng.randint(40, 3_650)
                )
                basis = prices[symbol] * (
                    rng.uniform(0.95, 1.25) if recent else rng.uniform(0.45, 1.35)
                )
                lots.append(
                    TaxLot(
                        account=account.account,
                        symbol=symbol,
                        lot_id=f"{account.account[:1]}{account.account[-1]}-{symbol}-{n}",
                        acquired=acquired,
                        shares=part,
                        cost_basis=round(basis * part, 2),
                    )
                )
                left -= part
    held = {h.symbol for h in holdings}
    # Every fund a class may buy is named on Holdings (0 shares where not held).
    for symbol in held_funds:
        if symbol not in held:
            holdings.append(
                Holding(
                    account=rng.choice(accounts).account,
                    symbol=symbol,
                    shares=0,
                    asset_class=line_of[symbol],
                )
            )

    # Recent purchases on record in the IRAs and Roths (they wash a taxable loss sale).
    for account in accounts:
        if account.type == "taxable":
            continue
        for h in holdings:
            if h.account == account.account and h.shares > 0 and rng.random() < 0.25:
                transactions.append(
                    Transaction(
                        date=valuation - dt.timedelta(days=rng.randint(2, 25)),
                        account=account.account,
                        symbol=h.symbol,
                        action="BUY",
                        shares=max(1, int(h.shares * 0.1)),
                        price=prices[h.symbol],
                    )
                )
    # A recent loss sale in a taxable account: that fund may not be bought back yet.
    if rng.random() < 0.4:
        symbol = rng.choice(held_funds)
        transactions.append(
            Transaction(
                date=valuation - dt.timedelta(days=rng.randint(2, 20)),
                account=accounts[0].account,
                symbol=symbol,
                action="SELL",
                shares=10,
                price=prices[symbol],
                realized_gain=-round(rng.uniform(300, 5_000), 2),
                term="ST",
            )
        )

    # Targets: per class (or per line), a CASH row, Location on bonds, TIPS and REITs.
    targets: list[Target] = []
    left = round(1.0 - cash_target, 4)
    for i, line in enumerate(lines):
        w = round((1.0 - cash_target) * raw[i] / sum(raw), 4) if i < len(lines) - 1 else left
        left = round(left - w, 4)
        cls = line if by_class else next(c for c, fs in funds.items() if fs[0] == line)
        location = LOCATION.get(cls) if rng.random() < 0.6 else None
        if by_class:
            targets.append(Target(asset_class=line, target_weight=w, location=location))
        else:
            targets.append(
                Target(
                    symbol=line,
                    target_weight=w,
                    substitute=funds[cls][1],
                    location=location,
                )
            )
    targets.append(Target(symbol="CASH", target_weight=cash_target))
    identical = ()
    twins = [s for s in TWINS if s in prices]
    if len(twins) >= 2:
        identical = (Identical(symbol=twins[0], identical_to=",".join(twins[1:])),)

    # Cash flows: deposits, withdrawals, or none; sometimes a mode that goes with them.
    flows: list[CashFlow] = []
    mode = "full"
    kind = rng.choice(["deposit", "deposit", "withdrawal", "withdrawal", "none"])
    account_value = {
        a.account: a.cash
        + sum(h.shares * prices[h.symbol] for h in holdings if h.account == a.account)
        for a in accounts
    }
    if kind == "deposit":
        for a in rng.sample(accounts, k=rng.randint(1, min(2, len(accounts)))):
            flows.append(
                CashFlow(account=a.account, amount=round(scale * rng.uniform(0.02, 0.25), 2))
            )
        mode = rng.choice(["full", "full", "full", "buy_only"])
    elif kind == "withdrawal":
        for a in rng.sample(accounts, k=rng.randint(1, min(2, len(accounts)))):
            amount = account_value[a.account] * rng.uniform(0.02, 0.3)
            if amount > 1_000:
                flows.append(CashFlow(account=a.account, amount=-round(amount, 2)))
        mode = rng.choice(["full", "full", "full", "sell_only"])

    settings = Settings(
        valuation_date=valuation,
        trigger=rng.choice(["always", "bands"]),
        rebalance_to=rng.choice(["target", "target", "band_edge"]),
        rebalance_mode=mode,
        realized_st_ytd=round(rng.choice([0.0, rng.uniform(-5_000, 20_000)]), 2),
        realized_lt_ytd=round(rng.choice([0.0, rng.uniform(-5_000, 30_000)]), 2),
        st_loss_carryover=round(rng.choice([0.0, 0.0, rng.uniform(0, 15_000)]), 2),
        lt_loss_carryover=round(rng.choice([0.0, 0.0, rng.uniform(0, 25_000)]), 2),
    )
    portfolio = Portfolio(
        settings=settings,
        accounts=tuple(accounts),
        cash_flows=tuple(flows),
        holdings=tuple(holdings),
        lots=tuple(lots),
        targets=tuple(targets),
        transactions=tuple(transactions),
        identical=identical,
    )
    return Case(seed, portfolio, prices, by_class, line_of)
