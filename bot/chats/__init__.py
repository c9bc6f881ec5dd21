"""Chats: settings, subscriptions, digest schedules and time zones of each Telegram chat."""
