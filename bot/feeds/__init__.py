"""Feeds: parsing RSS/Atom/JSON Feed and OPML, polling on a schedule, and their administration."""
