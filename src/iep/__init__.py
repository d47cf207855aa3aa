"""IEP, the Internal Email Platform."""

__version__ = "0.1.0"
