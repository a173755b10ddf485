"""Tests through the real PC/SC stack: pcscd, the vpcd driver and the simulated card."""
