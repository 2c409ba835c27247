"""The data layer: API client, secret store, encrypted offline store, outbox, sync engine. No feature, no Flet."""
