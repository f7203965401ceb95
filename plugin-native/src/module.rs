//! The root module every native plugin library exports.

use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::package_version_strings;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RArc, RBox, ROption, RResult, RStr, RString, RVec};

use super::traits::{
    FfiClock_TO, FfiDecoder_TO, FfiFileSystem_TO, FfiHttpClient_TO, FfiKeyValueStore_TO, FfiLog_TO,
    FfiMetadataSource_TO, FfiStorageProvider_TO,
};
use super::types::FfiError;

/// A setting: key and value.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiSetting {
    /// Key.
    pub key: RString,
    /// Value.
    pub value: RString,
}

/// [`HostContext`](tonearm_plugin_api::HostContext) across the boundary.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiHostContext {
    /// Log.
    pub log: FfiLog_TO<'static, RArc<()>>,
    /// Clock.
    pub clock: FfiClock_TO<'static, RArc<()>>,
    /// Granted folder.
    pub fs: ROption<FfiFileSystem_TO<'static, RArc<()>>>,
    /// HTTP.
    pub http: ROption<FfiHttpClient_TO<'static, RArc<()>>>,
    /// State store.
    pub state: ROption<FfiKeyValueStore_TO<'static, RArc<()>>>,
    /// Settings.
    pub settings: RVec<FfiSetting>,
}

/// One plugin instance, by kind.
#[repr(u8)]
#[derive(StableAbi)]
pub enum FfiInstance {
    /// A storage provider.
    StorageProvider(FfiStorageProvider_TO<'static, RBox<()>>),
    /// A decoder.
    Decoder(FfiDecoder_TO<'static, RBox<()>>),
    /// A metadata source.
    MetadataSource(FfiMetadataSource_TO<'static, RBox<()>>),
}

/// The root module of a native plugin library, which may hold several plugins.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginLibrary_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginLibrary {
    /// The plugin API version the library was built against. Data, not code: the host
    /// checks it before calling anything in the library.
    pub api_version: RStr<'static>,
    /// The manifests of the plugins in the library, as a JSON array.
    pub manifests: extern "C" fn() -> RResult<RString, FfiError>,
    /// Creates an instance of plugin `index` with a host context.
    #[sabi(last_prefix_field)]
    pub instantiate:
        extern "C" fn(index: usize, ctx: FfiHostContext) -> RResult<FfiInstance, FfiError>,
}

impl RootModule for PluginLibrary_Ref {
    abi_stable::declare_root_module_statics! {PluginLibrary_Ref}
    const BASE_NAME: &'static str = "tonearm_plugin";
    const NAME: &'static str = "tonearm plugin library";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
