"""Attaché: stores diplomatic news, answers queries by keyword or person, sends digests."""

__version__ = "0.1.0"
