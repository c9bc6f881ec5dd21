"""Telegram handlers, one module per feature. Thin: parse, call one service, render, reply."""
