"""The inventory API and the Inventory page (FastAPI), read-only over the published store."""
