-- Images, stored once each by their SHA-256: fetched covers (and, later, embedded ones).
CREATE TABLE artwork_images (
    sha256 TEXT PRIMARY KEY,
    bytes  BLOB NOT NULL
) WITHOUT ROWID;

-- Where a cover came from: NULL for a reference to a file's embedded picture, else the
-- metadata source's plugin id. A fetched cover survives rescans of a file without one.
ALTER TABLE artwork ADD COLUMN source TEXT;

-- Lyrics of an instrumental: an answer, with no text.
ALTER TABLE lyrics ADD COLUMN instrumental INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lyrics ADD COLUMN written_at INTEGER;
