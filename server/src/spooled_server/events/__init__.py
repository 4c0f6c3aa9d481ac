"""Change notifications: PostgreSQL NOTIFY in, in-process wake-ups and event fan-out out."""
