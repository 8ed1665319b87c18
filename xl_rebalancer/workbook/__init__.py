"""The workbook package: reading cells and tables, the schema every sheet follows, and
saving by splicing only the parts we own into the user's own package."""
