"""The API over real HTTP for the generated clients."""

from tests.support.served import served

__all__ = ["served"]
