//! Certifies the source with Tonearm's conformance suite: it stands before a scripted
//! service (nothing found, down, answering garbage) and is asked odd questions.

use std::sync::Arc;

use tonearm_conformance::metadata;
use tonearm_plugin_api::Instantiate;

#[test]
fn passes_the_metadata_suite() {
    let Instantiate::MetadataSource(create) = {{crate_ident}}::DESCRIPTOR.instantiate else {
        panic!("not a metadata source");
    };
    let create = Arc::new(move |ctx: &_| create(ctx).map(Arc::from));
    let report = metadata::check(&{{crate_ident}}::manifest(), create);
    assert!(report.is_success(), "{report}");
}
