"""Tests of the simulated My Number Card (jpkisim)."""
