//! Ids of artists, genres, albums and artwork, found or created once per batch, and the
//! tables that link tracks and albums to them.

use std::collections::HashMap;

use rusqlite::params;
use tonearm_core::library::{ArtworkRef, display_names as display};

use super::{LibraryError, Tx, size_i64};

/// Get-or-create ids for names, cached for the batch.
///
/// None of these statements has `RETURNING`: SQLite runs a statement that returns rows
/// as it runs a trigger, in a statement journal of its own that copies every page the
/// statement touches before it writes. A new row's id is the connection's last inserted
/// one; an existing row's is looked up.
#[derive(Default)]
pub(crate) struct NameIds {
    artists: HashMap<String, i64>,
    genres: HashMap<String, i64>,
    albums: HashMap<(String, String), i64>,
    /// Embedded artwork by SHA-256.
    artwork: HashMap<String, KnownArtwork>,
}

/// Artwork a batch has written or found.
#[derive(Clone, Copy, PartialEq, Eq)]
struct KnownArtwork {
    id: i64,
    /// Its image is stored (by this batch).
    image: bool,
    /// Its MIME type is known.
    mime: bool,
}

impl NameIds {
    pub(crate) fn artist(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: [&str; 2] = [
            "INSERT OR IGNORE INTO artists (name) VALUES (?)",
            "SELECT id FROM artists WHERE name = ?",
        ];
        Self::name_id(&mut self.artists, tx, name, SQL)
    }

    pub(crate) fn genre(&mut self, tx: &Tx<'_>, name: &str) -> Result<i64, LibraryError> {
        const SQL: [&str; 2] = [
            "INSERT OR IGNORE INTO genres (name) VALUES (?)",
            "SELECT id FROM genres WHERE name = ?",
        ];
        Self::name_id(&mut self.genres, tx, name, SQL)
    }

    /// The id of `name` through `cache`, created by `insert` if new, else found by `select`.
    fn name_id(
        cache: &mut HashMap<String, i64>,
        tx: &Tx<'_>,
        name: &str,
        [insert, select]: [&'static str; 2],
    ) -> Result<i64, LibraryError> {
        if let Some(&id) = cache.get(name) {
            return Ok(id);
        }
        let id = if tx.prepare_cached(insert)?.execute([name])? == 1 {
            tx.last_insert_rowid()
        } else {
            tx.prepare_cached(select)?.query_row([name], |r| r.get(0))?
        };
        cache.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The id of embedded artwork `art`, created on first sight, with its image (kept once
    /// however many tracks embed it) and its MIME type when a track brings them.
    pub(crate) fn artwork(&mut self, tx: &Tx<'_>, art: &ArtworkRef) -> Result<i64, LibraryError> {
        let known = match self.artwork.get(&art.sha256) {
            Some(known) => *known,
            None => find_or_insert_artwork(tx, art)?,
        };
        // A later track may bring what the first one to embed the image did not.
        let mut now = known;
        if !known.mime && art.mime.is_some() {
            tx.prepare_cached("UPDATE artwork SET mime = ? WHERE id = ? AND mime IS NULL")?
                .execute(params![&art.mime, known.id])?;
            now.mime = true;
        }
        if let Some(bytes) = art.bytes.as_ref().filter(|_| !known.image) {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO artwork_images (sha256, bytes) VALUES (?, ?)",
            )?
            .execute(params![&art.sha256, &bytes[..]])?;
            now.image = true;
        }
        if self.artwork.get(&art.sha256) != Some(&now) {
            self.artwork.insert(art.sha256.clone(), now);
        }
        Ok(known.id)
    }

    /// The album `title` by `artists`, created with its artist links on first sight.
    pub(crate) fn album(
        &mut self,
        tx: &Tx<'_>,
        title: &str,
        artists: &[String],
        year: Option<i32>,
    ) -> Result<i64, LibraryError> {
        let key = (title.to_owned(), display(artists));
        if let Some(&id) = self.albums.get(&key) {
            return Ok(id);
        }
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO albums (title, artist_display, year) VALUES (?, ?, ?)",
            )?
            .execute(params![title, &key.1, year])?;
        let id = if inserted == 1 {
            tx.last_insert_rowid()
        } else {
            let (id, known_year): (i64, Option<i32>) = tx
                .prepare_cached(
                    "SELECT id, year FROM albums WHERE title = ? AND artist_display = ?",
                )?
                .query_row(params![title, &key.1], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // An album learns its year from the first track that has one.
            if known_year.is_none() && year.is_some() {
                tx.prepare_cached("UPDATE albums SET year = ? WHERE id = ?")?
                    .execute(params![year, id])?;
            }
            id
        };
        let mut artist_ids = Vec::with_capacity(artists.len());
        for name in artists {
            artist_ids.push(self.artist(tx, name)?);
        }
        insert_links(tx, Links::AlbumArtists, id, &artist_ids)?;
        self.albums.insert(key, id);
        Ok(id)
    }
}

/// The row of artwork `art`, inserted with its MIME type if it is new.
fn find_or_insert_artwork(tx: &Tx<'_>, art: &ArtworkRef) -> Result<KnownArtwork, LibraryError> {
    let inserted = tx
        .prepare_cached("INSERT OR IGNORE INTO artwork (sha256, mime, byte_len) VALUES (?, ?, ?)")?
        .execute(params![&art.sha256, &art.mime, size_i64(art.byte_len)])?;
    if inserted == 1 {
        return Ok(KnownArtwork {
            id: tx.last_insert_rowid(),
            image: false,
            mime: art.mime.is_some(),
        });
    }
    let (id, mime): (i64, Option<String>) = tx
        .prepare_cached("SELECT id, mime FROM artwork WHERE sha256 = ?")?
        .query_row([&art.sha256], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(KnownArtwork {
        id,
        image: false,
        mime: mime.is_some(),
    })
}

/// A table linking a track or album to artists or genres.
#[derive(Clone, Copy)]
pub(crate) enum Links {
    /// A track's artists, in order.
    TrackArtists,
    /// An album's artists, in order.
    AlbumArtists,
    /// A track's genres.
    TrackGenres,
}

impl Links {
    /// The insert of one link; positioned links take the index as a third value.
    fn insert(self) -> &'static str {
        match self {
            Self::TrackArtists => {
                "INSERT OR IGNORE INTO track_artists (track_id, artist_id, position) VALUES (?, ?, ?)"
            }
            Self::AlbumArtists => {
                "INSERT OR IGNORE INTO album_artists (album_id, artist_id, position) VALUES (?, ?, ?)"
            }
            Self::TrackGenres => {
                "INSERT OR IGNORE INTO track_genres (track_id, genre_id) VALUES (?, ?)"
            }
        }
    }

    fn positioned(self) -> bool {
        !matches!(self, Self::TrackGenres)
    }
}

/// Links `owner` to `ids` in `links`, one execution of a cached statement per link.
pub(crate) fn insert_links(
    tx: &Tx<'_>,
    links: Links,
    owner: i64,
    ids: &[i64],
) -> Result<(), LibraryError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(links.insert())?;
    for (position, id) in ids.iter().enumerate() {
        if links.positioned() {
            insert.execute(params![owner, id, position as i64])?;
        } else {
            insert.execute(params![owner, id])?;
        }
    }
    Ok(())
}
