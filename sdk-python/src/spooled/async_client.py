"""Where code written for Spooled's SDK imports the async client and its factory from."""

from .client import AsyncSpooledClient, create_async_client

__all__ = ["AsyncSpooledClient", "create_async_client"]
