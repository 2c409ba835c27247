"""WhatsApp ("Mi Chat ONCOIMSS"): a guardian links their WhatsApp number from the app (a short code sent to
the bot), sees whether it is linked, and unlinks it."""
