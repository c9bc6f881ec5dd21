"""Search: the user query language and the search, person and article use-cases."""
