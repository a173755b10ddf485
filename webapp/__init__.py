"""The contract-signing web service (arrives with its own issue)."""
