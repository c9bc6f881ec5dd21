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

-- Matches are recorded per shared query or entity, not per chat: for each batch of articles
-- matched, one row per distinct keyword query (`query_id`) or followed entity (`entity_id`)
-- listing the batch's articles it matched (`article_ids`, a JSON array), written in the
-- transaction that dequeues the batch. Fanning out to ~2,000 chats per article at match time
-- was what limited percolation (and one row per query per article still cost ~300 rows per
-- article); a chat's inbox rows are materialised lazily instead, for that chat only, when its
-- inbox is read (`chats.expanded_seq` below). Matches go with their query (last subscriber
-- gone) or entity; an article id without an article is skipped when expanded.
CREATE TABLE matches (
    seq         INTEGER PRIMARY KEY,
    query_id    INTEGER REFERENCES match_queries (id) ON DELETE CASCADE,
    entity_id   INTEGER REFERENCES entities (id) ON DELETE CASCADE,
    article_ids TEXT    NOT NULL,
    matched_at  INTEGER NOT NULL,
    CHECK ((query_id IS NULL) <> (entity_id IS NULL))
);
CREATE INDEX matches_query ON matches (query_id, seq) WHERE query_id IS NOT NULL;
CREATE INDEX matches_entity ON matches (entity_id, seq) WHERE entity_id IS NOT NULL;

-- Every subscription's matches, one row per article as the inbox holds them, and only articles
-- stored no earlier than the subscription was made (an older article is not news to it).
-- Expansion selects one chat's rows with `seq` after its cursor.
CREATE VIEW subscription_matches (chat_id, article_id, subscription_id, matched_at, seq) AS
    SELECT s.chat_id, a.id, s.id, m.matched_at, m.seq
    FROM subscriptions s
    CROSS JOIN matches m ON m.query_id = s.query_id
    CROSS JOIN json_each(m.article_ids) j
    CROSS JOIN articles a ON a.id = j.value
    WHERE s.query_id IS NOT NULL AND m.query_id IS NOT NULL AND s.created_at <= a.ingested_at
    UNION ALL
    SELECT s.chat_id, a.id, s.id, m.matched_at, m.seq
    FROM subscriptions s
    CROSS JOIN matches m ON m.entity_id = s.entity_id
    CROSS JOIN json_each(m.article_ids) j
    CROSS JOIN articles a ON a.id = j.value
    WHERE s.kind IN ('person', 'country', 'org') AND s.entity_id IS NOT NULL
        AND m.entity_id IS NOT NULL AND s.created_at <= a.ingested_at;

-- Inbox rows are now written chat by chat, so an index by article took one random page write
-- per row (it made expansion ~5x slower). Nothing looks the inbox up by article; articles are
-- not deleted (deleting one would scan the inbox for the foreign key).
DROP INDEX inbox_article;

-- The last match (`matches.seq`) already expanded into this chat's inbox rows. Reading a chat's
-- inbox first expands the matches after it and advances it, in one transaction.
ALTER TABLE chats ADD COLUMN expanded_seq INTEGER NOT NULL DEFAULT 0;
-- Chats on `instant` are the ones percolation reports (for instant delivery).
CREATE INDEX chats_instant ON chats (id) WHERE digest_frequency = 'instant';

-- A new chat has no subscriptions, so no match before it concerns it: start at the end.
CREATE TRIGGER chats_expansion_start AFTER INSERT ON chats BEGIN
    UPDATE chats SET expanded_seq = (SELECT coalesce(max(seq), 0) FROM matches)
    WHERE id = new.id;
END;

-- A chat that blocks the bot collects nothing from then on (nor after it comes back): what
-- was matched before is expanded when it blocks; what is matched while it is blocked is
-- skipped when it unblocks.
CREATE TRIGGER chats_blocked AFTER UPDATE OF blocked_at ON chats
WHEN old.blocked_at IS NULL AND new.blocked_at IS NOT NULL BEGIN
    INSERT OR IGNORE INTO inbox (chat_id, article_id, subscription_id, matched_at)
        SELECT chat_id, article_id, subscription_id, matched_at FROM subscription_matches
        WHERE chat_id = new.id AND seq > new.expanded_seq;
    UPDATE chats SET expanded_seq = (SELECT coalesce(max(seq), 0) FROM matches)
    WHERE id = new.id;
END;

CREATE TRIGGER chats_unblocked AFTER UPDATE OF blocked_at ON chats
WHEN old.blocked_at IS NOT NULL AND new.blocked_at IS NULL BEGIN
    UPDATE chats SET expanded_seq = (SELECT coalesce(max(seq), 0) FROM matches)
    WHERE id = new.id;
END;

-- Document frequencies of the main index's terms: the rarest group of a query is anchored.
CREATE VIRTUAL TABLE articles_vocab USING fts5vocab (articles_fts, 'row');
