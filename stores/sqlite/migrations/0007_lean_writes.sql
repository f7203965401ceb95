-- Less written per scanned track.
--
-- Every file's generation changes on every full listing, and the one query that reads it
-- (`seen_generation <> ?`, after a full listing) cannot seek in an index anyway.
DROP INDEX files_by_generation;

-- Whether an album, artist, genre or artwork may have lost its last track since the last
-- sweep for them: a sync's batches that replace or remove tracks set it in their
-- transaction, a sweep clears it in its own, and a sync that changed nothing skips the
-- sweep. One row.
CREATE TABLE orphans (maybe INTEGER NOT NULL);
INSERT INTO orphans (maybe) VALUES (1);
