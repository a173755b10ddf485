"""Tests of the card driver."""
