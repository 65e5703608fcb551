"""The built-in connectors. Each registers under the entry point group ``omi_bridge.connectors``."""
