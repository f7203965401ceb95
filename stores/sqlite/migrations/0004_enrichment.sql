-- Values written over a track's own tags: by enrichment (the metadata source's plugin id,
-- the candidate's score, when) or by the user (`source = 'user'`, never overwritten by
-- enrichment). A rescan of the file re-applies them over its new tags.
CREATE TABLE tag_overrides (
    track_id   INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,          -- JSON of the value
    source     TEXT NOT NULL,
    score      REAL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (track_id, field)
);

-- What each metadata source answered for a track, per kind of enrichment: a final answer
-- (written, unchanged, no_match) newer than the file's last scan means that source is not
-- asked again; a failure is asked again next run.
CREATE TABLE enrichment (
    track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    plugin   TEXT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('written', 'unchanged', 'no_match', 'failed')),
    detail   TEXT,
    at       INTEGER NOT NULL,
    PRIMARY KEY (track_id, kind, plugin)
);
