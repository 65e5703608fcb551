"""Matrix: rooms into Omi as they happen, and through mautrix bridges, other messengers."""
