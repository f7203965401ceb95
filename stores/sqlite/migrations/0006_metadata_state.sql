-- State metadata sources keep (such as a catalogue's session or what it learned), per
-- plugin: unlike a provider's, it belongs to no source.
CREATE TABLE metadata_state (
    plugin TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (plugin, key)
);
