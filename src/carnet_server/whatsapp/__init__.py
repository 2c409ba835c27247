"""The WhatsApp channel ("Mi Chat ONCOIMSS"): webhook, durable queues, the conversation, number linking."""
