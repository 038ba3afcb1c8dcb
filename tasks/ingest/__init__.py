"""Ingest stage: discover the inbox's new files, read them, check them, load them (one module each).

The flow (``flows/ingest.py``) calls each step once per chunk of a feed's new files, never per file
or row.
"""

from tasks.ingest.check import check_references, known_references, validate_feed
from tasks.ingest.discover import Discovery, InboxFile, discover_inbox
from tasks.ingest.load import FeedResult, load_feed, restore_indexes, suspend_indexes
from tasks.ingest.read import FeedBatch, FileReport, read_feed

__all__ = [
    "Discovery",
    "FeedBatch",
    "FeedResult",
    "FileReport",
    "InboxFile",
    "check_references",
    "discover_inbox",
    "known_references",
    "load_feed",
    "read_feed",
    "restore_indexes",
    "suspend_indexes",
    "validate_feed",
]
