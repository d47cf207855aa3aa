"""The API over real HTTP for the SDK tests."""

from tests.support.served import served

__all__ = ["served"]
