"""Validation without pydantic, compiled from our pydantic models, for josev-iso15118.

Why: the service's memory budget is 40 MB and pydantic with our models costs ~13 MB of it. The
pydantic classes remain the one definition (API messages, config tables); `generator` writes
`generated/` from them and the tests prove both accept, refuse and dump the same.
"""
