//! Certifies the provider with Tonearm's conformance suite against the fake service: the
//! suite fills it through its control API and checks listings, changes and reads.

use std::sync::Arc;

use tonearm_conformance::host::test_context;
use tonearm_conformance::http::TestHttp;
use tonearm_conformance::provider::{self, ServedHarness};
use tonearm_plugin_api::Instantiate;

#[test]
fn passes_the_provider_suite_against_the_fake_service() {
    let fake = {{crate_ident}}_fake::start().expect("the fake service starts");
    let http = Arc::new(TestHttp::new().expect("an HTTP client"));
    let Instantiate::StorageProvider(create) = {{crate_ident}}::DESCRIPTOR.instantiate else {
        panic!("not a storage provider");
    };
    let (url, client) = (fake.url().to_owned(), http.clone());
    let provider = Arc::new(move || {
        let ctx = test_context({{crate_ident}}::ID)
            .with_http(client.clone())
            .with_setting("endpoint.api", &url)
            .with_setting("page_size", "7");
        create(&ctx).map(Arc::from).map_err(|e| e.to_string())
    });
    let harness = ServedHarness::new(fake.url(), http, provider).expect("the fake resets");
    let report = provider::check({{crate_ident}}::ID, Arc::new(harness));
    assert!(report.is_success(), "{report}");
}
