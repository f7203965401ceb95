//! A native library exporting a root module under Tonearm's names but with another
//! layout, as a library built against a changed interface would: hosts must refuse it
//! with abi_stable's explanation, never run it.

use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;

/// Not the layout hosts expect: a different second field.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginLibrary_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginLibrary {
    /// Same as the real one.
    pub api_version: RStr<'static>,
    /// Different from the real one.
    #[sabi(last_prefix_field)]
    pub answer: extern "C" fn() -> u64,
}

impl RootModule for PluginLibrary_Ref {
    abi_stable::declare_root_module_statics! {PluginLibrary_Ref}
    const BASE_NAME: &'static str = "tonearm_plugin";
    const NAME: &'static str = "tonearm plugin library";
    const VERSION_STRINGS: VersionStrings = abi_stable::package_version_strings!();
}

extern "C" fn answer() -> u64 {
    42
}

/// The root module.
#[abi_stable::export_root_module]
pub fn root_module() -> PluginLibrary_Ref {
    PluginLibrary {
        api_version: RStr::from_str("0.3.0"),
        answer,
    }
    .leak_into_prefix()
}
