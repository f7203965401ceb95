-- Less written per scanned track.
--
-- The search index keeps no copy of the text it indexes: nothing reads its columns
-- (search matches and ranks, then joins the tracks), and the copy was a second row per
-- track. Contentless, with deletes by rowid kept working. Rebuilt from the tables.
DROP TABLE tracks_fts;
CREATE VIRTUAL TABLE tracks_fts USING fts5 (
    title, artists, album, album_artists, genres, path,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO tracks_fts (rowid, title, artists, album, album_artists, genres, path)
SELECT t.id, coalesce(t.title, ''), t.artist_display, coalesce(al.title, ''),
       coalesce(al.artist_display, ''),
       coalesce((SELECT group_concat(g.name, ' ') FROM track_genres tg
                 JOIN genres g ON g.id = tg.genre_id WHERE tg.track_id = t.id), ''),
       f.path
FROM tracks t JOIN files f ON f.id = t.file_id LEFT JOIN albums al ON al.id = t.album_id;

-- Every file's generation changes on every full listing, and the one query that reads it
-- (`seen_generation <> ?`, after a full listing) cannot seek in an index anyway.
DROP INDEX files_by_generation;

-- Whether an album, artist, genre or artwork may have lost its last track since the last
-- sweep for them: a sync's batches that replace or remove tracks set it in their
-- transaction, a sweep clears it in its own, and a sync that changed nothing skips the
-- sweep. One row.
CREATE TABLE orphans (maybe INTEGER NOT NULL);
INSERT INTO orphans (maybe) VALUES (1);
