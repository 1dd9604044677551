"""The ness.DATA web app (`nessdata serve`)."""

from .app import create_app

__all__ = ["create_app"]
