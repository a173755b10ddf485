"""What the service does, apart from HTTP: accounts, documents, recipients, PDF revisions."""
