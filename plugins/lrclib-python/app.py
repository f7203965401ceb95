"""LRCLIB lyrics, as a Tonearm plugin written in Python.

The same plugin as `plugins/lrclib` (Rust), for authors who do not write Rust: a
metadata source that offers lyrics. `/api/get` answers only a track within two seconds
of the duration asked for, so a miss falls back to `/api/search` and takes the closest
duration within 10 %, time-synced lyrics first.

It implements the WIT world `plugin-component` of `plugin-component/wit/since_v0.3.0`
(componentize-py generates the `wit_world` bindings from it): the host's functions are
imported from `wit_world.imports.host`, and the plugin exports every interface of the
world. Queries and answers of metadata sources cross as JSON of the contract's types.
"""

import json
from typing import List, Optional
from urllib.parse import urlencode

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

ID = "lrclib-python"
API = "https://lrclib.net"
SEARCH_TOLERANCE = 0.10

MANIFEST = {
    "id": ID,
    "name": "LRCLIB (Python)",
    "version": "0.1.0",
    "api_version": "0.3.0",
    "kind": "metadata_source",
    "description": "Plain and time-synced lyrics from LRCLIB, by a plugin written in Python",
    "capabilities": {
        "http_hosts": ["lrclib.net"],
        "oauth": None,
        "filesystem": False,
        "state": False,
        "rate_limits": [],
    },
    "formats": {"extensions": [], "mime_types": [], "magic": []},
    "rank": 0,
    "metadata": {"identify": False, "artwork": False, "lyrics": True},
}


def error(kind, message):
    """An error the host understands, raised as componentize-py expects."""
    return Err(kind(message))


def unsupported(what: str):
    return error(types.PluginError_Unsupported, f"this source does not {what}")


def get(path: str, params: dict):
    """GETs `/api/PATH` with `params`: the decoded JSON, or None for a 404."""
    base = dict(host.settings()).get("endpoint.api", API).rstrip("/")
    response = host.http_send(types.HttpRequest(
        method="GET",
        url=f"{base}/api/{path}?{urlencode(params)}",
        headers=[types.Header(name="Accept", value="application/json")],
        body=b"",
    ))
    if response.status == 404:
        return None
    if response.status in (429, 503):
        raise Err(types.PluginError_RateLimited(None))
    if response.status >= 500:
        raise error(types.PluginError_Transient, f"LRCLIB answered {response.status}")
    if response.status != 200:
        raise error(types.PluginError_Invalid, f"LRCLIB answered {response.status}")
    try:
        return json.loads(response.body)
    except ValueError as e:
        raise error(types.PluginError_Corrupt, f"LRCLIB answered JSON this plugin cannot read: {e}")


def text(value):
    return value if isinstance(value, str) and value.strip() else None


def lyrics_of(record) -> Optional[dict]:
    if not isinstance(record, dict):
        raise error(types.PluginError_Corrupt, "LRCLIB answered something other than a record")
    lyrics = {
        "plain": text(record.get("plainLyrics")),
        "synced_lrc": text(record.get("syncedLyrics")),
        "instrumental": bool(record.get("instrumental")),
    }
    if lyrics["instrumental"] or lyrics["plain"] or lyrics["synced_lrc"]:
        return lyrics
    return None


def closest(records, duration_s):
    """The record closest in duration within the tolerance, synced lyrics first."""
    def distance(record):
        d = record.get("duration")
        return abs(d - duration_s) if isinstance(d, (int, float)) and duration_s is not None else None

    fitting = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        d = distance(record)
        if duration_s is None or (d is not None and d <= duration_s * SEARCH_TOLERANCE):
            fitting.append(record)
    fitting.sort(key=lambda r: (not text(r.get("syncedLyrics")), distance(r) or 0.0))
    return fitting[0] if fitting else None


class Plugin(exports.Plugin):
    def manifest(self) -> str:
        return json.dumps(MANIFEST)


class MetadataSource(exports.MetadataSource):
    def identify(self, query_json: str) -> str:
        raise unsupported("identify tracks")

    def artwork(self, request_json: str):
        raise unsupported("have artwork")

    def lyrics(self, query_json: str) -> Optional[str]:
        try:
            query = json.loads(query_json)
        except ValueError as e:
            raise error(types.PluginError_Invalid, f"the query is not JSON: {e}")
        tags = query.get("tags") or {}
        title, artists = tags.get("title"), tags.get("artists") or []
        if not title or not artists:
            # LRCLIB needs both: a track without them has no lyrics to find here.
            return None
        duration_ms = query.get("duration_ms")
        duration_s = duration_ms / 1000 if isinstance(duration_ms, int) else None
        params = {"track_name": title, "artist_name": artists[0]}
        if tags.get("album"):
            params["album_name"] = tags["album"]
        if duration_s is not None:
            params["duration"] = str(round(duration_s))
        record = get("get", params)
        if record is None:
            # The ±2 s rule missed (or the album differs): search by title and artist.
            found = get("search", {"track_name": title, "artist_name": artists[0]})
            record = closest(found or [], duration_s)
        if record is None:
            return None
        lyrics = lyrics_of(record)
        return json.dumps(lyrics) if lyrics else None


class Decoder(exports.Decoder):
    def probe(self, head: bytes, hint) -> int:
        raise unsupported("decode")

    def describe(self, hint):
        raise unsupported("decode")

    def open(self, hint):
        raise unsupported("decode")

    def read(self, max_samples: int) -> List[float]:
        raise unsupported("decode")

    def seek(self, frame: int) -> int:
        raise unsupported("decode")


class StorageProvider(exports.StorageProvider):
    def change_cursor(self) -> str:
        raise unsupported("keep files")

    def list_entries(self, page_token):
        raise unsupported("keep files")

    def changes(self, cursor: str):
        raise unsupported("keep files")

    def read_range(self, id: str, range):
        raise unsupported("keep files")
