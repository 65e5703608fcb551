"""Email connectors: IMAP (live), and mbox / Maildir / .eml archives, all through one mail-to-text."""
