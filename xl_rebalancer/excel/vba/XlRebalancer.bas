Attribute VB_Name = "XlRebalancer"
' xl-rebalancer: the ribbon's buttons and the macros behind them.
'
' Each macro runs one function of the Python module xl_rebalancer.excel.macros
' through xlwings' RunPython (the xlwings module in this workbook), against this
' workbook. The Python side reports problems in the Log sheet and in a message box,
' so no macro here needs error handling of its own.
Option Explicit

' Refresh prices from the feed (or the cache) and write the Prices sheet.
Public Sub RefreshPrices()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.refresh_prices()"
End Sub

' Check every input sheet; problems go to the Log sheet with their cells.
Public Sub Validate()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.validate()"
End Sub

' Write Drift, Summary and Log: weights against targets and bands.
Public Sub Drift()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.drift()"
End Sub

' Set target weights with the strategy on the Settings sheet (Optimized sheet).
Public Sub Optimize()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.optimize()"
End Sub

' Write the whole-share, lot-level trade list (Trades, Drift, Summary, Log).
Public Sub Rebalance()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.rebalance()"
End Sub

' List tax-loss harvest opportunities (TaxHarvest).
Public Sub Harvest()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.harvest()"
End Sub

' Apply pending corporate actions to lots, holdings and cash.
Public Sub ApplyCorporateActions()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.apply_corporate_actions()"
End Sub

' Ribbon callbacks (customUI/customUI14.xml onAction): Office passes the button.

Public Sub RibbonRefreshPrices(control As Object)
    RefreshPrices
End Sub

Public Sub RibbonValidate(control As Object)
    Validate
End Sub

Public Sub RibbonDrift(control As Object)
    Drift
End Sub

Public Sub RibbonOptimize(control As Object)
    Optimize
End Sub

Public Sub RibbonRebalance(control As Object)
    Rebalance
End Sub

Public Sub RibbonHarvest(control As Object)
    Harvest
End Sub

Public Sub RibbonApplyCorporateActions(control As Object)
    ApplyCorporateActions
End Sub
