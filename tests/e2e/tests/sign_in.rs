//! Signing a cloud source in through the facade, as any native app does: a real SQLite
//! library, the host's HTTP stack and token file, the fake OAuth server and fake Drive on
//! 127.0.0.1. The app only shows the URL and hands back what the redirect carried.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonearm_conformance::fixtures::FixtureSet;
use tonearm_e2e::cloud::test_http_settings;
use tonearm_fakes::drive::FakeDrive;
use tonearm_fakes::oauth::FakeOAuth;
use tonearm_host::events::{AuthEvent, CoreEvent, LibraryEvent};
use tonearm_host::{
    EventBus, HostCapabilities, OAuthClient, Received, Registry, SignIn, SignInError, SqliteStore,
    SyncRequest, Tonearm, TonearmError,
};
use tonearm_loader::load_builtin;
use tonearm_net::auth::TokenStore;
use tonearm_net::{HttpService, Network};

/// Where the fake redirects to; nothing listens there, the test reads the redirect itself.
const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct World {
    oauth: FakeOAuth,
    drive: FakeDrive,
    tokens: Arc<TokenStore>,
    tonearm: Tonearm,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let oauth = FakeOAuth::start().unwrap();
    let drive = FakeDrive::start(oauth.authority().clone()).unwrap();
    for f in &FixtureSet::bundled().audio {
        drive.add_file_at(&format!("Music/{}", f.file), &f.bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = Arc::new(TokenStore::new(dir.path().join("tokens.json")));
    let network = Network {
        http: Arc::new(HttpService::new(test_http_settings()).unwrap()),
        tokens: tokens.clone(),
    };
    let registry = Registry::new(EventBus::new(4096));
    for d in [
        &tonearm_plugin_gdrive::DESCRIPTOR,
        &tonearm_plugin_symphonia::DESCRIPTOR,
    ] {
        registry.register(load_builtin(d).unwrap()).unwrap();
    }
    let library = SqliteStore::open(&dir.path().join("library.db"))
        .await
        .unwrap();
    let tonearm = Tonearm::new(
        Arc::new(registry),
        library,
        HostCapabilities::with_network(network),
    );
    World {
        oauth,
        drive,
        tokens,
        tonearm,
        _dir: dir,
    }
}

impl World {
    fn settings(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("endpoint.api".to_owned(), self.drive.url()),
            ("endpoint.authorize".to_owned(), self.oauth.authorize_url()),
            ("endpoint.token".to_owned(), self.oauth.token_url()),
        ])
    }

    fn new_source(&self, name: &str) -> SignIn {
        SignIn::new_source(name, "gdrive", self.settings(), REDIRECT)
    }
}

fn client() -> OAuthClient {
    OAuthClient {
        id: "tonearm-test".into(),
        secret: None,
    }
}

/// Follows the authorization URL as a browser would: the fake approves at once and
/// redirects. Returns the code and state the redirect carries.
async fn approve(url: &str) -> (String, String) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302, "{answer:?}");
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let back = reqwest::Url::parse(location).unwrap();
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (param("code"), param("state"))
}

fn unknown_state(result: Result<impl std::fmt::Debug, TonearmError>) -> bool {
    matches!(result, Err(TonearmError::SignIn(SignInError::UnknownState)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_source_signs_in_through_the_facade_and_syncs() {
    let world = world().await;
    let tonearm = &world.tonearm;
    let mut events = tonearm.events();

    let start = tonearm
        .begin_sign_in(world.new_source("cloud").client(client()))
        .await
        .unwrap();
    assert!(start.url.starts_with(&world.oauth.authorize_url()));
    assert!(start.url.contains("code_challenge_method=S256"));
    assert!(start.url.contains(&start.state));
    assert!(
        tonearm.sources().await.unwrap().is_empty(),
        "nothing is added before the sign-in completes"
    );

    let (code, state) = approve(&start.url).await;
    assert_eq!(state, start.state);
    assert!(unknown_state(
        tonearm.complete_sign_in("not-ours", &code).await
    ));
    let source = tonearm.complete_sign_in(&state, &code).await.unwrap();
    assert_eq!(
        (source.name.as_str(), source.provider.as_str()),
        ("cloud", "gdrive")
    );
    assert_eq!(world.oauth.authority().code_exchanges(), 1);
    let kept = world.tokens.get("cloud").unwrap().unwrap();
    assert_eq!(kept.client_id, "tonearm-test");
    assert!(
        kept.refresh_token.is_some(),
        "the refresh token is kept for later"
    );
    assert!(
        unknown_state(tonearm.complete_sign_in(&state, &code).await),
        "a state is good once"
    );

    let mut seen = Vec::new();
    while let Some(Received::Event(event)) = events.try_recv() {
        seen.push(event);
    }
    let signed_in = seen.iter().position(
        |e| matches!(e, CoreEvent::Auth(AuthEvent::SignedIn { source }) if source == "cloud"),
    );
    let added = seen.iter().position(|e| {
        matches!(e, CoreEvent::Library(LibraryEvent::SourceAdded { source }) if source == "cloud")
    });
    assert!(signed_in.unwrap() < added.unwrap(), "{seen:?}");

    let outcomes = tonearm.sync(SyncRequest::source("cloud")).await.unwrap();
    let counts = outcomes[0].result.as_ref().unwrap();
    assert_eq!(counts.added as usize, FixtureSet::bundled().audio.len());

    // Removing the source forgets its sign-in.
    tonearm.remove_source("cloud").await.unwrap();
    assert!(world.tokens.get("cloud").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_keeps_the_client_and_replaces_a_dead_grant() {
    let world = world().await;
    let tonearm = &world.tonearm;
    let start = tonearm
        .begin_sign_in(world.new_source("cloud").client(client()))
        .await
        .unwrap();
    let (code, state) = approve(&start.url).await;
    tonearm.complete_sign_in(&state, &code).await.unwrap();
    tonearm.sync(SyncRequest::source("cloud")).await.unwrap();
    let tracks = tonearm.stats().await.unwrap().tracks;

    // The grant dies: the sync says so, and signing in again (no client given: the one
    // used before) brings the source back with its library intact.
    world.oauth.authority().revoke_refresh_tokens();
    world.oauth.authority().expire_access_tokens();
    let failed = tonearm.sync(SyncRequest::source("cloud")).await.unwrap();
    let error = failed[0].result.as_ref().unwrap_err().to_string();
    assert!(error.contains("sign in again"), "{error}");

    let start = tonearm
        .begin_sign_in(SignIn::again("cloud", REDIRECT))
        .await
        .unwrap();
    assert!(
        start.url.contains("client_id=tonearm-test"),
        "{}",
        start.url
    );
    let (code, state) = approve(&start.url).await;
    let source = tonearm.complete_sign_in(&state, &code).await.unwrap();
    assert_eq!(source.name, "cloud");
    let outcomes = tonearm.sync(SyncRequest::source("cloud")).await.unwrap();
    assert!(outcomes[0].result.is_ok(), "{:?}", outcomes[0].result);
    assert_eq!(tonearm.stats().await.unwrap().tracks, tracks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_cancelled_and_mistaken_sign_ins_leave_nothing_behind() {
    let world = world().await;
    let tonearm = &world.tonearm;

    // No client id, and none from a previous sign-in.
    let err = tonearm.begin_sign_in(world.new_source("cloud")).await;
    assert!(
        matches!(err, Err(TonearmError::SignIn(SignInError::NoClient(ref p))) if p == "gdrive"),
        "{err:?}"
    );
    // A provider that does not sign in, and a source that does not exist.
    let err = tonearm
        .begin_sign_in(SignIn::new_source(
            "x",
            "symphonia",
            BTreeMap::new(),
            REDIRECT,
        ))
        .await;
    assert!(
        matches!(err, Err(TonearmError::BadSource { .. })),
        "{err:?}"
    );
    let err = tonearm
        .begin_sign_in(SignIn::again("nobody", REDIRECT).client(client()))
        .await;
    assert!(matches!(err, Err(TonearmError::Store(_))), "{err:?}");
    // A redirect URI that is not a URL.
    let err = tonearm
        .begin_sign_in(
            SignIn::new_source("cloud", "gdrive", world.settings(), "not a url").client(client()),
        )
        .await;
    assert!(
        matches!(err, Err(TonearmError::SignIn(SignInError::Endpoint(_)))),
        "{err:?}"
    );

    // The person gives up: the app cancels, and the state is dead.
    let start = tonearm
        .begin_sign_in(world.new_source("cloud").client(client()))
        .await
        .unwrap();
    let (code, state) = approve(&start.url).await;
    assert!(tonearm.cancel_sign_in(&state));
    assert!(!tonearm.cancel_sign_in(&state));
    assert!(unknown_state(tonearm.complete_sign_in(&state, &code).await));

    // The token endpoint refuses a code it never issued: no tokens, no source.
    let start = tonearm
        .begin_sign_in(world.new_source("cloud").client(client()))
        .await
        .unwrap();
    let err = tonearm.complete_sign_in(&start.state, "forged").await;
    assert!(
        matches!(err, Err(TonearmError::SignIn(SignInError::Exchange(ref m))) if m.contains("invalid_grant")),
        "{err:?}"
    );
    assert!(tonearm.sources().await.unwrap().is_empty());
    assert!(world.tokens.get("cloud").unwrap().is_none());

    // Only the newest few sign-ins wait: the oldest is forgotten.
    let first = tonearm
        .begin_sign_in(world.new_source("cloud").client(client()))
        .await
        .unwrap();
    for _ in 0..8 {
        tonearm
            .begin_sign_in(world.new_source("cloud").client(client()))
            .await
            .unwrap();
    }
    assert!(!tonearm.cancel_sign_in(&first.state));
}
