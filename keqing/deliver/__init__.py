"""Delivery of the outbox: transports (SMTP, .eml files), the retrying sender, outbox statements."""
