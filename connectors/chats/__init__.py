"""Chat exports: WhatsApp, Telegram, Discord, one conversation per chat per day."""
