"""What a run shows people: the Report page, the firm's review workbook and PDFs."""
