//! Components built against WIT 0.2.0 (frozen): `probe` answers a result, and `describe`
//! reports a file's stream and tags; a metadata source only identifies.

use tonearm_plugin_api::MediaInfo;

use super::exports::{common_exports, metadata_before_v0_3};
use super::store::host_impl;

mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../plugin-component/wit/since_v0.2.0",
        world: "plugin-component",
    });
}

tonearm_plugin_component::__wit_conversions!(self::bindings::tonearm::plugin::types);

use self::bindings::tonearm;
use self::bindings::tonearm::plugin::types as wit;
pub(super) use self::bindings::{PluginComponent, PluginComponentPre};

host_impl!();
common_exports!();
metadata_before_v0_3!();

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
