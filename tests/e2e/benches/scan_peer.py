#!/usr/bin/env python3
"""The scan benchmark's peer: what a user might write instead of Tonearm, in Python.

Walks a folder, reads each audio file's tags and duration with mutagen, and keeps them in
SQLite (one thread, one transaction, one prepared statement). Prints the number of tracks
and the seconds the scan took, as `tracks seconds`.

    python3 scan_peer.py MUSIC_DIR DB_FILE
"""

import os
import sqlite3
import sys
import time

import mutagen

AUDIO = {".mp3", ".flac", ".ogg", ".opus", ".m4a", ".mp4", ".wav", ".aiff", ".aif"}


def first(tags, *keys):
    """The first value of the first key present, as text."""
    if tags is None:
        return None
    for key in keys:
        try:
            value = tags.get(key)
        except (KeyError, ValueError):
            value = None
        if value:
            if isinstance(value, list):
                value = value[0]
            return str(value)
    return None


def number(text):
    """`3` of `3/12`, or None."""
    if not text:
        return None
    head = str(text).split("/")[0].strip()
    return int(head) if head.isdigit() else None


def main():
    music, db_path = sys.argv[1], sys.argv[2]
    if os.path.exists(db_path):
        os.remove(db_path)
    db = sqlite3.connect(db_path)
    db.execute(
        "CREATE TABLE tracks (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, "
        "title TEXT, artist TEXT, album TEXT, track INTEGER, year TEXT, genre TEXT, "
        "duration_ms INTEGER)"
    )
    started = time.perf_counter()
    rows = 0
    with db:
        for root, _dirs, files in os.walk(music):
            for name in files:
                if os.path.splitext(name)[1].lower() not in AUDIO:
                    continue
                path = os.path.join(root, name)
                stat = os.stat(path)
                audio = mutagen.File(path)
                if audio is None:
                    continue
                tags = audio.tags
                db.execute(
                    "INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        path,
                        stat.st_size,
                        int(stat.st_mtime * 1000),
                        first(tags, "TIT2", "title", "\xa9nam"),
                        first(tags, "TPE1", "artist", "\xa9ART"),
                        first(tags, "TALB", "album", "\xa9alb"),
                        number(first(tags, "TRCK", "tracknumber")),
                        first(tags, "TDRC", "date", "\xa9day"),
                        first(tags, "TCON", "genre", "\xa9gen"),
                        int(audio.info.length * 1000),
                    ),
                )
                rows += 1
    print(rows, time.perf_counter() - started)


if __name__ == "__main__":
    main()
