"""omi-bridge: forward what arrives in mailboxes, chats and folders into Omi, exactly once."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
