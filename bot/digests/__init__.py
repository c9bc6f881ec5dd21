"""Digests: matching new articles to subscriptions, composing each chat's digest, delivering it."""
