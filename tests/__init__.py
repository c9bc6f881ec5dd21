"""Attaché test suite."""
