-- The Tonearm library: sources and their files, tracks with their tags, and search.

CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    provider        TEXT NOT NULL,
    settings        TEXT NOT NULL DEFAULT '{}',   -- JSON object of strings
    created_at      INTEGER NOT NULL,
    -- Incremental sync: the committed change cursor.
    cursor          TEXT,
    -- A full listing in progress: the cursor taken before it, the next page, and the
    -- generation stamped on every file it has seen. Survives a killed process.
    pending_cursor  TEXT,
    pending_page    TEXT,
    generation      INTEGER NOT NULL DEFAULT 0,
    last_sync_at    INTEGER,
    last_error      TEXT
);

CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    remote_id       TEXT NOT NULL,
    path            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    modified_ms     INTEGER,
    content_hash    TEXT,                          -- "algorithm:value"
    mime            TEXT,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error           TEXT,
    bytes_read      INTEGER NOT NULL DEFAULT 0,    -- fetched to read the tags
    scanned_at      INTEGER NOT NULL,
    seen_generation INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source_id, remote_id)
);
CREATE INDEX files_by_generation ON files (source_id, seen_generation);

CREATE TABLE artists (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE albums (
    id             INTEGER PRIMARY KEY,
    title          TEXT NOT NULL,
    artist_display TEXT NOT NULL DEFAULT '',
    year           INTEGER,
    UNIQUE (title, artist_display)
);

CREATE TABLE album_artists (
    album_id  INTEGER NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    artist_id INTEGER NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (album_id, artist_id)
);

CREATE TABLE genres (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Cover art embedded in files, by content; the bytes stay in the files.
CREATE TABLE artwork (
    id       INTEGER PRIMARY KEY,
    sha256   TEXT NOT NULL UNIQUE,
    mime     TEXT,
    byte_len INTEGER NOT NULL
);

CREATE TABLE tracks (
    id                       INTEGER PRIMARY KEY,
    file_id                  INTEGER NOT NULL UNIQUE REFERENCES files (id) ON DELETE CASCADE,
    title                    TEXT,
    artist_display           TEXT NOT NULL DEFAULT '',
    album_id                 INTEGER REFERENCES albums (id),
    track_number             INTEGER,
    track_total              INTEGER,
    disc_number              INTEGER,
    disc_total               INTEGER,
    year                     INTEGER,
    duration_ms              INTEGER,
    sample_rate              INTEGER,
    channels                 INTEGER,
    bit_depth                INTEGER,
    bitrate_kbps             INTEGER,
    file_type                TEXT,
    replaygain_track_gain    REAL,
    replaygain_track_peak    REAL,
    replaygain_album_gain    REAL,
    replaygain_album_peak    REAL,
    r128_track_gain          INTEGER,
    r128_album_gain          INTEGER,
    artwork_id               INTEGER REFERENCES artwork (id),
    musicbrainz_recording_id TEXT,
    musicbrainz_release_id   TEXT,
    isrc                     TEXT
);
CREATE INDEX tracks_by_album ON tracks (album_id, disc_number, track_number);

CREATE TABLE track_artists (
    track_id  INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    artist_id INTEGER NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    PRIMARY KEY (track_id, artist_id)
);
CREATE INDEX track_artists_by_artist ON track_artists (artist_id);

CREATE TABLE track_genres (
    track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    genre_id INTEGER NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    PRIMARY KEY (track_id, genre_id)
);

CREATE TABLE lyrics (
    track_id   INTEGER PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE,
    plain      TEXT,
    synced_lrc TEXT,
    source     TEXT
);

CREATE TABLE playlists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE playlist_items (
    playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track_id    INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    PRIMARY KEY (playlist_id, position)
);

-- State plugins keep per source (such as a local folder's snapshot).
CREATE TABLE plugin_state (
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (source_id, key)
);

CREATE VIRTUAL TABLE tracks_fts USING fts5 (
    title, artists, album, album_artists, genres, path,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Rows leave the index with their track, however the track goes (cascades included).
CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
    DELETE FROM tracks_fts WHERE rowid = old.id;
END;
