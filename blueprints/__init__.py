"""HTTP triggers and durable functions: thin adapters over `core`."""
