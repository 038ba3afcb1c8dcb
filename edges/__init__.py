"""The I/O edges: the database, locks, the outbox table, the SMTP and file transports, the sender, and
the fault-injection points. Tasks call these; the domain package ``keqing`` never does."""
