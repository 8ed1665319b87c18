"""Workbook I/O: the schema, the openpyxl reader and the atomic writer."""
