//! Components built against WIT 0.3.0, the current version: a metadata source identifies,
//! fetches artwork and finds lyrics.

use tonearm_plugin_api::MediaInfo;

use super::exports::common_exports;
use super::store::host_impl;

mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../plugin-component/wit/since_v0.3.0",
        world: "plugin-component",
    });
}

tonearm_plugin_component::__wit_conversions!(self::bindings::tonearm::plugin::types);

use self::bindings::tonearm;
use self::bindings::tonearm::plugin::types as wit;
pub(super) use self::bindings::{PluginComponent, PluginComponentPre};

host_impl!();
common_exports!();

/// Adds this version's host interface to `linker`.
pub(super) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<HostState>,
) -> wasmtime::Result<()> {
    PluginComponent::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
}

pub(super) fn probe(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    head: &[u8],
    hint: &ProbeHint,
) -> wasmtime::Result<PluginResult<u8>> {
    let hint = wit::ProbeHint::from(hint.clone());
    Ok(answer(
        b.tonearm_plugin_decoder().call_probe(s, head, &hint)?,
    ))
}

/// The stream and tags of the store's current source.
pub(super) fn describe(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    hint: &ProbeHint,
) -> wasmtime::Result<PluginResult<Option<MediaInfo>>> {
    let hint = wit::ProbeHint::from(hint.clone());
    let info: PluginResult<MediaInfo> = answer(b.tonearm_plugin_decoder().call_describe(s, &hint)?);
    Ok(info.map(Some))
}

pub(super) fn identify(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    query_json: &str,
) -> wasmtime::Result<PluginResult<String>> {
    Ok(answer(
        b.tonearm_plugin_metadata_source()
            .call_identify(s, query_json)?,
    ))
}

pub(super) fn artwork(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    request_json: &str,
) -> wasmtime::Result<PluginResult<Option<tonearm_plugin_api::Artwork>>> {
    let answer = b
        .tonearm_plugin_metadata_source()
        .call_artwork(s, request_json)?;
    Ok(answer.map_err(Into::into).map(|art| {
        art.map(|a| tonearm_plugin_api::Artwork {
            mime: a.mime,
            max_edge: a.max_edge,
            bytes: a.bytes,
        })
    }))
}

pub(super) fn lyrics(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    query_json: &str,
) -> wasmtime::Result<PluginResult<Option<String>>> {
    Ok(answer(
        b.tonearm_plugin_metadata_source()
            .call_lyrics(s, query_json)?,
    ))
}
