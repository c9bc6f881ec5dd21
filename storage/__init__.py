"""Persistence for Attaché: a backend-neutral Storage protocol and its SQLite implementation."""
