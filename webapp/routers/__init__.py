"""HTTP routers, one per domain: the JSON API and the pages."""
