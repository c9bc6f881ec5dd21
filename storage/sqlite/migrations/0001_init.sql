-- Attaché schema, version 1.
-- Times are integer unix seconds (UTC). Booleans are 0/1 integers.

-- One row per story. `sort_at` is the time a story is ordered and filtered by: published_at,
-- unless missing or more than a day after ingestion, else ingested_at. The full-text index's
-- rowid is `id` (dense, in storage order): small rowid gaps keep the index compact.
-- `tags` holds the search filters' tag tokens (storage.sqlite_search): `src<sources.id>` for
-- every source that carried the story, `dip1` when diplomatic, `ent<entities.id>` per entity.
CREATE TABLE articles (
    id               INTEGER PRIMARY KEY,
    title            TEXT    NOT NULL,
    text             TEXT    NOT NULL,
    lang             TEXT    NOT NULL DEFAULT 'en',
    published_at     INTEGER,
    ingested_at      INTEGER NOT NULL,
    sort_at          INTEGER NOT NULL,
    dateline_place   TEXT,
    agency           TEXT,
    attribution      TEXT,
    url              TEXT,
    source           TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL UNIQUE,
    signature        BLOB    NOT NULL,
    diplomatic_score REAL    NOT NULL DEFAULT 0,
    is_diplomatic    INTEGER NOT NULL DEFAULT 0,
    reasons          TEXT    NOT NULL DEFAULT '[]',
    tags             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX articles_sort_at ON articles (sort_at);

-- Per UTC day of `sort_at` (unix seconds / 86400), the smallest and largest article id of
-- that day: date filters become rowid ranges of the full-text index. Kept by add_articles;
-- a bound may be looser than the stored articles (never tighter).
CREATE TABLE article_days (
    day      INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL
);

-- Every distinct source name (case-folded): `source:` filters scan this small table for names
-- containing the filter, then match the sources' tag tokens in the full-text index.
CREATE TABLE sources (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL UNIQUE
);

-- Every place that carried a story (the first one included).
CREATE TABLE article_sources (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    url        TEXT,
    source     TEXT    NOT NULL,
    source_key TEXT    NOT NULL,  -- casefolded source, for case-insensitive source: filters
    guid       TEXT,
    seen_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX article_sources_url ON article_sources (url) WHERE url IS NOT NULL;
CREATE UNIQUE INDEX article_sources_guid ON article_sources (guid) WHERE guid IS NOT NULL;
-- Pasted text has no URL: record each (story, source) pair once.
CREATE UNIQUE INDEX article_sources_no_url ON article_sources (article_id, source)
    WHERE url IS NULL;
CREATE INDEX article_sources_article ON article_sources (article_id);

-- MinHash LSH bands: articles sharing any band key are near-duplicate candidates.
CREATE TABLE article_bands (
    band       INTEGER NOT NULL,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (band, article_id)
) WITHOUT ROWID;

-- Full-text index over title, text and tags, external content (the text is stored once, in
-- `articles`), rowid = articles.id. add_articles inserts index rows itself (in one batch
-- statement, cheaper than a per-row trigger); updates and deletes go through triggers.
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title,
    text,
    tags,
    content = 'articles',
    content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text, tags)
        VALUES ('delete', old.id, old.title, old.text, old.tags);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text, tags ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, text, tags)
        VALUES ('delete', old.id, old.title, old.text, old.tags);
    INSERT INTO articles_fts (rowid, title, text, tags)
        VALUES (new.id, new.title, new.text, new.tags);
END;

CREATE TABLE entities (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('person', 'country', 'org')),
    canonical TEXT NOT NULL,
    key       TEXT NOT NULL UNIQUE
);

CREATE TABLE entity_aliases (
    alias_key TEXT    NOT NULL,
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    PRIMARY KEY (alias_key, entity_id)
) WITHOUT ROWID;
CREATE INDEX entity_aliases_entity ON entity_aliases (entity_id);

CREATE TABLE article_entities (
    article_id   INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    entity_id    INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    mentions     INTEGER NOT NULL DEFAULT 1,
    first_offset INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (article_id, entity_id)
) WITHOUT ROWID;
CREATE INDEX article_entities_entity ON article_entities (entity_id, article_id);

CREATE TABLE chats (
    id               INTEGER PRIMARY KEY,
    type             TEXT    NOT NULL,
    title            TEXT,
    tz               TEXT    NOT NULL,
    digest_frequency TEXT    NOT NULL DEFAULT 'daily',
    digest_time      TEXT    NOT NULL DEFAULT '09:00',
    digest_weekday   INTEGER NOT NULL DEFAULT 0,
    next_digest_at   INTEGER,
    only_diplomatic  INTEGER NOT NULL DEFAULT 1,
    paused           INTEGER NOT NULL DEFAULT 0,
    blocked_at       INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX chats_next_digest ON chats (next_digest_at) WHERE next_digest_at IS NOT NULL;

CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('keyword', 'person', 'country', 'org', 'source')),
    query      TEXT    NOT NULL,
    entity_id  INTEGER REFERENCES entities (id) ON DELETE CASCADE,
    -- kind + entity id, or kind + case-folded query: what makes two subscriptions the same
    dedup_key  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (chat_id, dedup_key)
);

CREATE TABLE inbox (
    chat_id         INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    article_id      INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    matched_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    PRIMARY KEY (chat_id, article_id, subscription_id)
) WITHOUT ROWID;
CREATE INDEX inbox_pending ON inbox (chat_id, matched_at) WHERE delivered_at IS NULL;
CREATE INDEX inbox_article ON inbox (article_id);
CREATE INDEX inbox_subscription ON inbox (subscription_id);

CREATE TABLE feeds (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL UNIQUE,
    title           TEXT,
    etag            TEXT,
    last_modified   TEXT,
    interval_s      INTEGER NOT NULL,
    next_poll_at    INTEGER NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_success_at INTEGER,
    enabled         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE enabled = 1;
