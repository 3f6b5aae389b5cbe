"""Imports (F-11.3): one tabular reader (`reader`), a dry run and the import itself (`run`), and the importers —
`residents` (the household roster), `complaints` (12345 hotline work orders), and the care ledger's key persons
(flows/care/importing.py). Import the modules directly: this package imports none of them (flows.care uses the
reader, and the care importer lives there)."""
