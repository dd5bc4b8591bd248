"""The wire: the endpoint table, one HTTP exchange, the sender (each row's rules), downloads.

Imports the foundation and ``_pacing`` only.
"""
