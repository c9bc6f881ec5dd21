-- Attaché schema, version 2: matching new articles against subscriptions ("percolation").
-- See storage/sqlite_percolate.py for how these tables are used.

-- Articles stored but not yet matched against subscriptions. A trigger queues every new
-- article (merged duplicates add no article row, so they are never matched twice);
-- `SQLiteStorage.percolate` matches a batch and deletes it from here in the same transaction,
-- so a crash leaves the batch queued for the next call. Articles stored before this migration
-- are not queued: they are not news to any subscription.
CREATE TABLE percolate_queue (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE
);

CREATE TRIGGER articles_percolate_queue AFTER INSERT ON articles BEGIN
    INSERT INTO percolate_queue (article_id) VALUES (new.id);
END;

-- One row per distinct keyword query (many chats follow the same words): its FTS5 MATCH
-- expression is verified once per batch, however many subscriptions share it.
-- `anchored` = 0: no required group could be indexed; the query is a candidate for every batch.
CREATE TABLE match_queries (
    id         INTEGER PRIMARY KEY,
    expression TEXT    NOT NULL UNIQUE,
    anchored   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX match_queries_unanchored ON match_queries (id) WHERE anchored = 0;

-- The inverted index of keyword queries: for each query, the tokens (as the full-text index
-- tokenises them: stemmed, case- and accent-folded) of ONE required group, one token per
-- option. An article can only match a query if it holds one of these tokens (`prefix` = 1:
-- a token starting with `term`).
CREATE TABLE match_anchors (
    prefix   INTEGER NOT NULL,
    term     TEXT    NOT NULL,
    query_id INTEGER NOT NULL REFERENCES match_queries (id) ON DELETE CASCADE,
    PRIMARY KEY (prefix, term, query_id)
) WITHOUT ROWID;
CREATE INDEX match_anchors_query ON match_anchors (query_id);

ALTER TABLE subscriptions ADD COLUMN query_id INTEGER REFERENCES match_queries (id);
CREATE INDEX subscriptions_query ON subscriptions (query_id) WHERE query_id IS NOT NULL;
CREATE INDEX subscriptions_entity ON subscriptions (entity_id) WHERE entity_id IS NOT NULL;

-- A query nobody follows any more goes, with its anchors. A trigger (rather than code in each
-- delete path) also covers subscriptions removed by cascades (forgotten chats, entities).
CREATE TRIGGER subscriptions_release_query AFTER DELETE ON subscriptions
WHEN old.query_id IS NOT NULL BEGIN
    DELETE FROM match_queries WHERE id = old.query_id
        AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE query_id = old.query_id);
END;

-- Document frequencies of the main index's terms: the rarest group of a query is anchored.
CREATE VIRTUAL TABLE articles_vocab USING fts5vocab (articles_fts, 'row');
