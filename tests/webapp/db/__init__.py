"""Tests of the database layer, the audit chain and the encrypted file store."""
