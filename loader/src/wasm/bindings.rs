//! One component, whichever WIT version it was built against: the version is read from
//! its imports, and every call dispatches to that version's binding module.

use tonearm_plugin_api::{
    ByteRange, ChangePage, ListPage, MediaInfo, PluginResult, ProbeHint, StreamSpec,
};
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Linker};

use super::store::HostState;
use super::{since_v0_1_0, since_v0_2_0, since_v0_3_0};

/// A WIT version of `tonearm:plugin` this host binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WitVersion {
    /// 0.1.0 (frozen).
    V0_1_0,
    /// 0.2.0 (frozen).
    V0_2_0,
    /// 0.3.0, the current version.
    V0_3_0,
}

impl WitVersion {
    /// The version a component states in the `@X.Y.Z` of its `tonearm:plugin` imports,
    /// if this host binds it: the newest bound version with that major and minor.
    pub fn bound(version: &semver::Version) -> Option<Self> {
        match (version.major, version.minor) {
            (0, 1) => Some(Self::V0_1_0),
            (0, 2) => Some(Self::V0_2_0),
            (0, 3) => Some(Self::V0_3_0),
            _ => None,
        }
    }

    /// The version as written in WIT.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1_0 => "0.1.0",
            Self::V0_2_0 => "0.2.0",
            Self::V0_3_0 => "0.3.0",
        }
    }
}

/// Runs `$body` with `$v` naming the binding module of `$bindings`'s version and `$b` its
/// generated bindings.
macro_rules! per_version {
    ($bindings:expr, $b:ident, $v:ident => $body:expr) => {
        match $bindings {
            Self::V0_1_0($b) => {
                use since_v0_1_0 as $v;
                $body
            }
            Self::V0_2_0($b) => {
                use since_v0_2_0 as $v;
                $body
            }
            Self::V0_3_0($b) => {
                use since_v0_3_0 as $v;
                $body
            }
        }
    };
}

/// A linked component, ready to instantiate.
pub(super) enum Pre {
    V0_1_0(since_v0_1_0::PluginComponentPre<HostState>),
    V0_2_0(since_v0_2_0::PluginComponentPre<HostState>),
    V0_3_0(since_v0_3_0::PluginComponentPre<HostState>),
}

impl Pre {
    /// Adds `version`'s host interface to `linker`.
    pub(super) fn add_to_linker(
        version: WitVersion,
        linker: &mut Linker<HostState>,
    ) -> wasmtime::Result<()> {
        match version {
            WitVersion::V0_1_0 => since_v0_1_0::add_to_linker(linker),
            WitVersion::V0_2_0 => since_v0_2_0::add_to_linker(linker),
            WitVersion::V0_3_0 => since_v0_3_0::add_to_linker(linker),
        }
    }

    /// Checks that `pre` exports what `version`'s world says.
    pub(super) fn new(version: WitVersion, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match version {
            WitVersion::V0_1_0 => Self::V0_1_0(since_v0_1_0::PluginComponentPre::new(pre)?),
            WitVersion::V0_2_0 => Self::V0_2_0(since_v0_2_0::PluginComponentPre::new(pre)?),
            WitVersion::V0_3_0 => Self::V0_3_0(since_v0_3_0::PluginComponentPre::new(pre)?),
        })
    }

    /// A new instance in `store`.
    pub(super) fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Self::V0_1_0(pre) => Bindings::V0_1_0(pre.instantiate(store)?),
            Self::V0_2_0(pre) => Bindings::V0_2_0(pre.instantiate(store)?),
            Self::V0_3_0(pre) => Bindings::V0_3_0(pre.instantiate(store)?),
        })
    }
}

/// A component instance's exports. Each call answers `Err` for a trap and `Ok` around the
/// plugin's own result.
pub(super) enum Bindings {
    V0_1_0(since_v0_1_0::PluginComponent),
    V0_2_0(since_v0_2_0::PluginComponent),
    V0_3_0(since_v0_3_0::PluginComponent),
}

type Call<T> = wasmtime::Result<PluginResult<T>>;

impl Bindings {
    pub(super) fn manifest(&self, s: &mut Store<HostState>) -> wasmtime::Result<String> {
        per_version!(self, b, v => v::manifest(b, s))
    }

    pub(super) fn probe(
        &self,
        s: &mut Store<HostState>,
        head: &[u8],
        hint: &ProbeHint,
    ) -> Call<u8> {
        per_version!(self, b, v => v::probe(b, s, head, hint))
    }

    /// `None` from a version without `describe`.
    pub(super) fn describe(
        &self,
        s: &mut Store<HostState>,
        hint: &ProbeHint,
    ) -> Call<Option<MediaInfo>> {
        per_version!(self, b, v => v::describe(b, s, hint))
    }

    pub(super) fn open(&self, s: &mut Store<HostState>, hint: &ProbeHint) -> Call<StreamSpec> {
        per_version!(self, b, v => v::open(b, s, hint))
    }

    pub(super) fn read(&self, s: &mut Store<HostState>, max_samples: u32) -> Call<Vec<f32>> {
        per_version!(self, b, v => v::read(b, s, max_samples))
    }

    pub(super) fn seek(&self, s: &mut Store<HostState>, frame: u64) -> Call<u64> {
        per_version!(self, b, v => v::seek(b, s, frame))
    }

    pub(super) fn change_cursor(&self, s: &mut Store<HostState>) -> Call<String> {
        per_version!(self, b, v => v::change_cursor(b, s))
    }

    pub(super) fn list(
        &self,
        s: &mut Store<HostState>,
        page_token: Option<&str>,
    ) -> Call<ListPage> {
        per_version!(self, b, v => v::list(b, s, page_token))
    }

    pub(super) fn changes(&self, s: &mut Store<HostState>, cursor: &str) -> Call<ChangePage> {
        per_version!(self, b, v => v::changes(b, s, cursor))
    }

    pub(super) fn read_range(
        &self,
        s: &mut Store<HostState>,
        id: &str,
        range: ByteRange,
    ) -> Call<Vec<u8>> {
        per_version!(self, b, v => v::read_range(b, s, id, range))
    }

    pub(super) fn identify(&self, s: &mut Store<HostState>, query_json: &str) -> Call<String> {
        per_version!(self, b, v => v::identify(b, s, query_json))
    }

    pub(super) fn artwork(
        &self,
        s: &mut Store<HostState>,
        request_json: &str,
    ) -> Call<Option<tonearm_plugin_api::Artwork>> {
        per_version!(self, b, v => v::artwork(b, s, request_json))
    }

    pub(super) fn lyrics(
        &self,
        s: &mut Store<HostState>,
        query_json: &str,
    ) -> Call<Option<String>> {
        per_version!(self, b, v => v::lyrics(b, s, query_json))
    }
}

/// The version of the `tonearm:plugin` interfaces `component` imports, which must all be
/// the same; `Ok(None)` if it imports none.
pub(super) fn imported_version(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<Option<semver::Version>, String> {
    let mut found: Option<semver::Version> = None;
    for (name, _) in component.component_type().imports(engine) {
        let Some(rest) = name
            .strip_prefix(super::WIT_PACKAGE)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let stated = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        let version = semver::Version::parse(stated)
            .map_err(|_| format!("it imports {name}, which names no version"))?;
        match &found {
            Some(seen) if *seen != version => {
                return Err(format!(
                    "it imports two versions of {}: {seen} and {version}",
                    super::WIT_PACKAGE
                ));
            }
            _ => found = Some(version),
        }
    }
    Ok(found)
}
