//! Certifies the decoder with Tonearm's conformance suite, on the suite's own fixtures:
//! every one whose extension the manifest claims is probed, decoded, compared with its
//! reference and seeked, and the damaged ones must fail cleanly.

use std::sync::Arc;

use tonearm_conformance::decoder;
use tonearm_conformance::fixtures::FixtureSet;

#[test]
fn passes_the_decoder_suite() {
    let manifest = {{crate_ident}}::manifest();
    let plugin = Arc::new({{crate_ident}}::WavDecoder);
    let report = decoder::check(plugin, &manifest, &FixtureSet::bundled());
    assert!(report.is_success(), "{report}");
    // The suite checked something: a decoder that claims nothing would pass vacuously.
    let checked = report.checks.len() - report.skipped();
    assert!(checked > 2, "{report}");
}
