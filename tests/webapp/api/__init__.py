"""Tests of the JSON API as described: OpenAPI, docs/api.md, answers against the models."""
