"""Source -> article: plain text, HTML pages, fetched URLs, feeds and bulk files."""
