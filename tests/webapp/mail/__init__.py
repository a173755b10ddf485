"""Tests of the service's mail: rendering, SMTP delivery and the outbox."""
