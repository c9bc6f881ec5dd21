"""Subscription matching, digest composition and delivery."""
