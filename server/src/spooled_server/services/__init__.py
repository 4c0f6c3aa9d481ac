"""The domain: services own transactions and raise typed domain errors."""
