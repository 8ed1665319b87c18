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

'' Import broker downloads (positions, lots, realized gains, history) into the input sheets.
Public Sub ImportBrokerFiles()
    Dim picked As Variant, i As Long, paths As String
    picked = Application.GetOpenFilename( _
        "Broker files (*.csv;*.ofx;*.qfx;*.xml),*.csv;*.ofx;*.qfx;*.xml", , _
        "Import broker files", , True)
    If Not IsArray(picked) Then Exit Sub
    For i = LBound(picked) To UBound(picked)
        paths = paths & PyString(CStr(picked(i))) & ","
    Next i
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.import_files([" & paths & "])"
End Sub

' Write the Trades sheet as the broker's order file (Settings: order_format).
Public Sub ExportOrders()
    RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.export_orders()"
End Sub

' Apply what was executed: a fills file, or (Cancel, then Yes) the proposal as it stands.
Public Sub RecordFills()
    Dim picked As Variant
    picked = Application.GetOpenFilename("Fills (*.csv),*.csv", , "Fills file (Cancel: the proposal as is)")
    If VarType(picked) = vbBoolean Then
        If MsgBox("Record the Trades sheet as executed in full at its prices?", _
                  vbYesNo + vbQuestion, "xl-rebalancer") <> vbYes Then Exit Sub
        RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.record_fills(None)"
    Else
        RunPython "import xl_rebalancer.excel.macros; xl_rebalancer.excel.macros.record_fills(" & _
                  PyString(CStr(picked)) & ")"
    End If
End Sub

' A Python string literal for any path: letters, digits and a few safe marks as they are,
' every other character as a \u escape, so no quote or backslash can end the literal.
Private Function PyString(text As String) As String
    Dim i As Long, c As String, out As String
    For i = 1 To Len(text)
        c = Mid$(text, i, 1)
        If c Like "[A-Za-z0-9 ._:-]" Then
            out = out & c
        Else
            out = out & "\u" & Right$("0000" & Hex$(AscW(c)), 4)
        End If
    Next i
    PyString = "'" & out & "'"
End Function

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

Public Sub RibbonImportBrokerFiles(control As Object)
    ImportBrokerFiles
End Sub

Public Sub RibbonExportOrders(control As Object)
    ExportOrders
End Sub

Public Sub RibbonRecordFills(control As Object)
    RecordFills
End Sub
