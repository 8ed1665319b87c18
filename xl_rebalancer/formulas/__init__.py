"""A headless formula engine: the formulas our sheets hold, evaluated without Excel so
that a batch run saves values Excel and LibreOffice would show."""
