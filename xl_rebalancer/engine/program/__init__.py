"""The trade program: one mixed-integer program per household, solved by HiGHS.

Read in this order; each module imports only those above it:

    search.py    the program as HiGHS takes it (plain arrays), its options and limits,
                 the netting regime enumerated, wide share columns in two steps, the
                 clock as a safety net only (SolverTimeLimit), the runner a door may
                 move to another process
    model.py     the shared model every rule adds to: _Model (columns, rows, bounds,
                 integrality, solved through search.py), SellUnit, and TradeModel (the
                 run's inputs and the columns the rules share by name)
    tickets.py   tickets and minimum trades; one fund per line in each account
    location.py  asset location: the cost outside a fund's Location, and no buy there
                 while an account of its Location keeps the cash
    sales.py     lots and sales: the sell units, lot and position columns, the fixed
                 relief order, a withdrawal's losses before its gains
    accounts.py  cash and accounts: each account's buys, and its cash never below zero
    tracking.py  the objective's drift: each line from its goal (bands, risk scales,
                 band_edge toward target), the tie-break between a line's funds
    caps.py      soft limits (cash, turnover, realized gain, weights), the gain cap,
                 and the limits a solution breaks
    netting.py   the year's tax netted with the gains before the run and carryovers
    wash.py      same-run wash sales, and the harvests a buy forecloses
    decode.py    the solution as a Decision: shares on the grid, lot slices, buys
    trades.py    solve_trades: choose the path, build (the rules in order), search,
                 decode

The rules are a list, trades.RULES, in the program's order: each a name, the condition
under which the run needs it (applies) and the function that adds its columns and rows
(add, on the TradeModel). The order is the program's column and row order, which
HiGHS's path depends on, so a rule is appended where the columns it reads exist. A new
rule: a module here with add(t) (its columns named on TradeModel when a later rule
reads them), a Rule in RULES, and a test in tests/engine/program that reads as its
specification: the rows it adds on a household built in the test, checked against
numbers worked out by hand, and what breaks when the plan is built without it
(conftest's program.watch and program.without).

engine/plan.py makes solve_trades's inputs from the household and records its Decision
through engine/book.py.
"""
