"""mynasign tests."""
