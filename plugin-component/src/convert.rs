//! Conversions between the contract's types and the types a WIT binding generator makes
//! from `wit/`. The guest (wit-bindgen) and the host (wasmtime's `bindgen!`) generate
//! identically shaped types, so one macro serves both sides.
//!
//! Like the WIT folders, the conversions of a released version are frozen: each version's
//! macro covers the types that version added, and a host binding an older version uses
//! that version's macro.

/// Implements `From` both ways between the contract's types and the generated types of the
/// current WIT version in module `$wit` (the generated `types` interface).
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_conversions {
    ($wit:path) => {
        $crate::__wit_conversions_v0_1!($wit);

        const _: () = {
            use $crate::__api::{MediaInfo, TrackTags};
            use $wit as wit;

            impl From<TrackTags> for wit::TrackTags {
                fn from(t: TrackTags) -> Self {
                    Self {
                        title: t.title,
                        artists: t.artists,
                        album: t.album,
                        album_artists: t.album_artists,
                        genres: t.genres,
                        track_number: t.track_number,
                        track_total: t.track_total,
                        disc_number: t.disc_number,
                        disc_total: t.disc_total,
                        year: t.year,
                        musicbrainz_recording_id: t.musicbrainz_recording_id,
                        musicbrainz_release_id: t.musicbrainz_release_id,
                        isrc: t.isrc,
                    }
                }
            }

            impl From<wit::TrackTags> for TrackTags {
                fn from(t: wit::TrackTags) -> Self {
                    Self {
                        title: t.title,
                        artists: t.artists,
                        album: t.album,
                        album_artists: t.album_artists,
                        genres: t.genres,
                        track_number: t.track_number,
                        track_total: t.track_total,
                        disc_number: t.disc_number,
                        disc_total: t.disc_total,
                        year: t.year,
                        musicbrainz_recording_id: t.musicbrainz_recording_id,
                        musicbrainz_release_id: t.musicbrainz_release_id,
                        isrc: t.isrc,
                    }
                }
            }

            impl From<MediaInfo> for wit::MediaInfo {
                fn from(m: MediaInfo) -> Self {
                    Self {
                        stream: m.stream.into(),
                        tags: m.tags.into(),
                    }
                }
            }

            impl From<wit::MediaInfo> for MediaInfo {
                fn from(m: wit::MediaInfo) -> Self {
                    Self {
                        stream: m.stream.into(),
                        tags: m.tags.into(),
                    }
                }
            }
        };
    };
}

/// The conversions of the types WIT version 0.1.0 defines (frozen), between the contract
/// and the generated types in module `$wit`.
#[doc(hidden)]
#[macro_export]
macro_rules! __wit_conversions_v0_1 {
    ($wit:path) => {
        const _: () = {
            use $crate::__api::{
                ByteRange, Change, ChangePage, ContentHash, DirEntry, EntryKind, FileStat,
                HttpRequest, HttpResponse, ListPage, PluginError, ProbeHint, RemoteEntry,
                StreamSpec,
            };
            use $wit as wit;

            impl From<PluginError> for wit::PluginError {
                fn from(e: PluginError) -> Self {
                    match e {
                        PluginError::NotFound(d) => Self::NotFound(d),
                        PluginError::Unauthorized(d) => Self::Unauthorized(d),
                        PluginError::RateLimited { retry_after } => Self::RateLimited(
                            retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                        ),
                        PluginError::Transient(d) => Self::Transient(d),
                        PluginError::CursorExpired(d) => Self::CursorExpired(d),
                        PluginError::Unsupported(d) => Self::Unsupported(d),
                        PluginError::Invalid(d) => Self::Invalid(d),
                        PluginError::Corrupt(d) => Self::Corrupt(d),
                        PluginError::Io(d) => Self::Io(d),
                        PluginError::Internal(d) => Self::Internal(d),
                    }
                }
            }

            impl From<wit::PluginError> for PluginError {
                fn from(e: wit::PluginError) -> Self {
                    match e {
                        wit::PluginError::NotFound(d) => Self::NotFound(d),
                        wit::PluginError::Unauthorized(d) => Self::Unauthorized(d),
                        wit::PluginError::RateLimited(ms) => Self::RateLimited {
                            retry_after: ms.map(std::time::Duration::from_millis),
                        },
                        wit::PluginError::Transient(d) => Self::Transient(d),
                        wit::PluginError::CursorExpired(d) => Self::CursorExpired(d),
                        wit::PluginError::Unsupported(d) => Self::Unsupported(d),
                        wit::PluginError::Invalid(d) => Self::Invalid(d),
                        wit::PluginError::Corrupt(d) => Self::Corrupt(d),
                        wit::PluginError::Io(d) => Self::Io(d),
                        wit::PluginError::Internal(d) => Self::Internal(d),
                    }
                }
            }

            impl From<wit::ProbeHint> for ProbeHint {
                fn from(h: wit::ProbeHint) -> Self {
                    Self {
                        extension: h.extension,
                        mime: h.mime,
                    }
                }
            }

            impl From<ProbeHint> for wit::ProbeHint {
                fn from(h: ProbeHint) -> Self {
                    Self {
                        extension: h.extension,
                        mime: h.mime,
                    }
                }
            }

            impl From<StreamSpec> for wit::StreamSpec {
                fn from(s: StreamSpec) -> Self {
                    Self {
                        sample_rate: s.sample_rate,
                        channels: s.channels,
                        total_frames: s.total_frames,
                        codec: s.codec,
                        bits_per_sample: s.bits_per_sample,
                    }
                }
            }

            impl From<wit::StreamSpec> for StreamSpec {
                fn from(s: wit::StreamSpec) -> Self {
                    Self {
                        sample_rate: s.sample_rate,
                        channels: s.channels,
                        total_frames: s.total_frames,
                        codec: s.codec,
                        bits_per_sample: s.bits_per_sample,
                    }
                }
            }

            impl From<RemoteEntry> for wit::RemoteEntry {
                fn from(e: RemoteEntry) -> Self {
                    Self {
                        id: e.id,
                        path: e.path,
                        size: e.size,
                        modified_ms: e.modified_ms,
                        content_hash: e.content_hash.map(|h| wit::ContentHash {
                            algorithm: h.algorithm,
                            value: h.value,
                        }),
                        mime: e.mime,
                    }
                }
            }

            impl From<wit::RemoteEntry> for RemoteEntry {
                fn from(e: wit::RemoteEntry) -> Self {
                    Self {
                        id: e.id,
                        path: e.path,
                        size: e.size,
                        modified_ms: e.modified_ms,
                        content_hash: e.content_hash.map(|h| ContentHash {
                            algorithm: h.algorithm,
                            value: h.value,
                        }),
                        mime: e.mime,
                    }
                }
            }

            impl From<ListPage> for wit::ListPage {
                fn from(p: ListPage) -> Self {
                    Self {
                        entries: p.entries.into_iter().map(Into::into).collect(),
                        next_page: p.next_page,
                    }
                }
            }

            impl From<wit::ListPage> for ListPage {
                fn from(p: wit::ListPage) -> Self {
                    Self {
                        entries: p.entries.into_iter().map(Into::into).collect(),
                        next_page: p.next_page,
                    }
                }
            }

            impl From<ChangePage> for wit::ChangePage {
                fn from(p: ChangePage) -> Self {
                    let changes = p
                        .changes
                        .into_iter()
                        .map(|c| match c {
                            Change::Upsert { entry } => wit::Change::Upsert(entry.into()),
                            Change::Removed { id } => wit::Change::Removed(id),
                            Change::Moved { from_id, entry } => wit::Change::Moved(wit::Moved {
                                from_id,
                                entry: entry.into(),
                            }),
                        })
                        .collect();
                    Self {
                        changes,
                        next_cursor: p.next_cursor,
                        has_more: p.has_more,
                    }
                }
            }

            impl From<wit::ChangePage> for ChangePage {
                fn from(p: wit::ChangePage) -> Self {
                    let changes = p
                        .changes
                        .into_iter()
                        .map(|c| match c {
                            wit::Change::Upsert(entry) => Change::Upsert {
                                entry: entry.into(),
                            },
                            wit::Change::Removed(id) => Change::Removed { id },
                            wit::Change::Moved(m) => Change::Moved {
                                from_id: m.from_id,
                                entry: m.entry.into(),
                            },
                        })
                        .collect();
                    Self {
                        changes,
                        next_cursor: p.next_cursor,
                        has_more: p.has_more,
                    }
                }
            }

            impl From<ByteRange> for wit::ByteRange {
                fn from(r: ByteRange) -> Self {
                    match r {
                        ByteRange::Span { offset, len } => Self::Span(wit::Span { offset, len }),
                        ByteRange::Suffix { len } => Self::Suffix(len),
                    }
                }
            }

            impl From<wit::ByteRange> for ByteRange {
                fn from(r: wit::ByteRange) -> Self {
                    match r {
                        wit::ByteRange::Span(s) => Self::Span {
                            offset: s.offset,
                            len: s.len,
                        },
                        wit::ByteRange::Suffix(len) => Self::Suffix { len },
                    }
                }
            }

            impl From<FileStat> for wit::FileStat {
                fn from(s: FileStat) -> Self {
                    Self {
                        size: s.size,
                        modified_ms: s.modified_ms,
                        file_id: s.file_id,
                    }
                }
            }

            impl From<wit::FileStat> for FileStat {
                fn from(s: wit::FileStat) -> Self {
                    Self {
                        size: s.size,
                        modified_ms: s.modified_ms,
                        file_id: s.file_id,
                    }
                }
            }

            impl From<DirEntry> for wit::DirEntry {
                fn from(e: DirEntry) -> Self {
                    let kind = match e.kind {
                        EntryKind::File => wit::EntryKind::File,
                        EntryKind::Dir => wit::EntryKind::Dir,
                        EntryKind::Other => wit::EntryKind::Other,
                    };
                    Self {
                        name: e.name,
                        kind,
                        stat: e.stat.into(),
                    }
                }
            }

            impl From<wit::DirEntry> for DirEntry {
                fn from(e: wit::DirEntry) -> Self {
                    let kind = match e.kind {
                        wit::EntryKind::File => EntryKind::File,
                        wit::EntryKind::Dir => EntryKind::Dir,
                        wit::EntryKind::Other => EntryKind::Other,
                    };
                    Self {
                        name: e.name,
                        kind,
                        stat: e.stat.into(),
                    }
                }
            }

            fn headers_in(h: Vec<wit::Header>) -> Vec<(String, String)> {
                h.into_iter().map(|h| (h.name, h.value)).collect()
            }

            fn headers_out(h: Vec<(String, String)>) -> Vec<wit::Header> {
                h.into_iter()
                    .map(|(name, value)| wit::Header { name, value })
                    .collect()
            }

            impl From<HttpRequest> for wit::HttpRequest {
                fn from(r: HttpRequest) -> Self {
                    Self {
                        method: r.method,
                        url: r.url,
                        headers: headers_out(r.headers),
                        body: r.body,
                    }
                }
            }

            impl From<wit::HttpRequest> for HttpRequest {
                fn from(r: wit::HttpRequest) -> Self {
                    Self {
                        method: r.method,
                        url: r.url,
                        headers: headers_in(r.headers),
                        body: r.body,
                    }
                }
            }

            impl From<HttpResponse> for wit::HttpResponse {
                fn from(r: HttpResponse) -> Self {
                    Self {
                        status: r.status,
                        headers: headers_out(r.headers),
                        body: r.body,
                    }
                }
            }

            impl From<wit::HttpResponse> for HttpResponse {
                fn from(r: wit::HttpResponse) -> Self {
                    Self {
                        status: r.status,
                        headers: headers_in(r.headers),
                        body: r.body,
                    }
                }
            }
        };
    };
}
