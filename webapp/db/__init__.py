"""The service's database: models (`models`), engines (`engine`), migrations (`migrate`)."""
