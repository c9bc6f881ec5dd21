"""The Telegram runtime: typed context, scheduled jobs, the command registry, sending."""
