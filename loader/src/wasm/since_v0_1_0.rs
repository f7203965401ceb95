//! Components built against WIT 0.1.0 (frozen): `probe` answers a bare score, and there is
//! no `describe`, so the host describes a file through a decode session.

use super::exports::{common_exports, metadata_before_v0_3};
use super::store::host_impl;

mod bindings {
    #![allow(missing_docs)]
    wasmtime::component::bindgen!({
        path: "../plugin-component/wit/since_v0.1.0",
        world: "plugin-component",
    });
}

tonearm_plugin_component::__wit_conversions_v0_1!(self::bindings::tonearm::plugin::types);

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

/// 0.1.0's `probe` cannot fail: a score of 0 is its only "no".
pub(super) fn probe(
    b: &PluginComponent,
    s: &mut Store<HostState>,
    head: &[u8],
    hint: &ProbeHint,
) -> wasmtime::Result<PluginResult<u8>> {
    let hint = wit::ProbeHint::from(hint.clone());
    Ok(Ok(b.tonearm_plugin_decoder().call_probe(s, head, &hint)?))
}

/// 0.1.0 has no `describe`.
pub(super) fn describe(
    _: &PluginComponent,
    _: &mut Store<HostState>,
    _: &ProbeHint,
) -> wasmtime::Result<PluginResult<Option<tonearm_plugin_api::MediaInfo>>> {
    Ok(Ok(None))
}
