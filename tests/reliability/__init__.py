"""Reliability and security tests: hostile input, access control, network safety, secrets."""
