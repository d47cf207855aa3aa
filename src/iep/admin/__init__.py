"""The admin dashboard (U1, S10): server-rendered pages at /admin on the API port, calling the same services."""
