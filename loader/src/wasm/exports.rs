//! The calls into a component's exports that are the same in every WIT version since
//! 0.1.0, as a macro each binding module expands over its own generated types. A version
//! that changes one of these writes that call by hand instead (as 0.2.0 did `probe`).

/// Free functions `manifest`, `open`, `read`, `seek`, `change_cursor`, `list`, `changes`
/// and `read_range` over the module's `PluginComponent`, each answering
/// `wasmtime::Result` (a trap) around `PluginResult` (the plugin's own answer), in the
/// contract's types.
macro_rules! common_exports {
    () => {
        use tonearm_plugin_api::{
            ByteRange, ChangePage, ListPage, PluginResult, ProbeHint, StreamSpec,
        };
        use wasmtime::Store;

        use super::store::HostState;

        fn answer<T, U: From<T>>(r: Result<T, wit::PluginError>) -> PluginResult<U> {
            r.map(Into::into).map_err(Into::into)
        }

        pub(super) fn manifest(
            b: &PluginComponent,
            s: &mut Store<HostState>,
        ) -> wasmtime::Result<String> {
            b.tonearm_plugin_plugin().call_manifest(s)
        }

        pub(super) fn open(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            hint: &ProbeHint,
        ) -> wasmtime::Result<PluginResult<StreamSpec>> {
            let hint = wit::ProbeHint::from(hint.clone());
            Ok(answer(b.tonearm_plugin_decoder().call_open(s, &hint)?))
        }

        pub(super) fn read(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            max_samples: u32,
        ) -> wasmtime::Result<PluginResult<Vec<f32>>> {
            Ok(answer(
                b.tonearm_plugin_decoder().call_read(s, max_samples)?,
            ))
        }

        pub(super) fn seek(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            frame: u64,
        ) -> wasmtime::Result<PluginResult<u64>> {
            Ok(answer(b.tonearm_plugin_decoder().call_seek(s, frame)?))
        }

        pub(super) fn change_cursor(
            b: &PluginComponent,
            s: &mut Store<HostState>,
        ) -> wasmtime::Result<PluginResult<String>> {
            Ok(answer(
                b.tonearm_plugin_storage_provider().call_change_cursor(s)?,
            ))
        }

        pub(super) fn list(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            page_token: Option<&str>,
        ) -> wasmtime::Result<PluginResult<ListPage>> {
            Ok(answer(
                b.tonearm_plugin_storage_provider()
                    .call_list_entries(s, page_token)?,
            ))
        }

        pub(super) fn changes(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            cursor: &str,
        ) -> wasmtime::Result<PluginResult<ChangePage>> {
            Ok(answer(
                b.tonearm_plugin_storage_provider()
                    .call_changes(s, cursor)?,
            ))
        }

        pub(super) fn read_range(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            id: &str,
            range: ByteRange,
        ) -> wasmtime::Result<PluginResult<Vec<u8>>> {
            Ok(answer(
                b.tonearm_plugin_storage_provider()
                    .call_read_range(s, id, range.into())?,
            ))
        }
    };
}

pub(super) use common_exports;

/// The metadata calls of WIT versions before 0.3.0, where a source could only identify
/// (its `lookup`): `identify`, and `artwork` and `lyrics` answering `unsupported`.
macro_rules! metadata_before_v0_3 {
    () => {
        pub(super) fn identify(
            b: &PluginComponent,
            s: &mut Store<HostState>,
            query_json: &str,
        ) -> wasmtime::Result<PluginResult<String>> {
            Ok(answer(
                b.tonearm_plugin_metadata_source()
                    .call_lookup(s, query_json)?,
            ))
        }

        pub(super) fn artwork(
            _: &PluginComponent,
            _: &mut Store<HostState>,
            _: &str,
        ) -> wasmtime::Result<PluginResult<Option<tonearm_plugin_api::Artwork>>> {
            Ok(Err(tonearm_plugin_api::PluginError::Unsupported(
                "a metadata source built for API 0.1 or 0.2 has no artwork".into(),
            )))
        }

        pub(super) fn lyrics(
            _: &PluginComponent,
            _: &mut Store<HostState>,
            _: &str,
        ) -> wasmtime::Result<PluginResult<Option<String>>> {
            Ok(Err(tonearm_plugin_api::PluginError::Unsupported(
                "a metadata source built for API 0.1 or 0.2 has no lyrics".into(),
            )))
        }
    };
}

pub(super) use metadata_before_v0_3;
