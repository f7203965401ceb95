//! A fake cloud drive (Google Drive or OneDrive) with its OAuth server, signed in, and the
//! host's HTTP stack pointed at it: what the cloud tests share.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tonearm_conformance::provider::ProviderHarness;
use tonearm_fakes::drive::FakeDrive;
use tonearm_fakes::graph::FakeGraph;
use tonearm_fakes::oauth::FakeOAuth;
use tonearm_host::EventBus;
use tonearm_host::capabilities::{MemoryState, SystemClock, TracingLog};
use tonearm_loader::ProviderFactory;
use tonearm_net::auth::{StoredTokens, TokenStore};
use tonearm_net::{HttpService, HttpSettings};
use tonearm_plugin_api::{HostContext, StorageProvider};

/// The source name the tokens are stored under.
pub const SOURCE: &str = "drive";

/// What the tests do to a fake service's files, whichever service it is.
pub trait FakeFiles: Send + Sync {
    /// Starts one, accepting the authority's tokens.
    fn start(authority: tonearm_fakes::oauth::Authority) -> std::io::Result<Self>
    where
        Self: Sized;
    /// The API base URL.
    fn url(&self) -> String;
    /// Adds a file at a path, creating folders; returns its id.
    fn add_file_at(&self, path: &str, bytes: &[u8]) -> String;
    /// The folder at a path, created if missing.
    fn folder_at(&self, path: &str) -> String;
    /// Replaces a file's content.
    fn update_content(&self, id: &str, bytes: &[u8]) -> bool;
    /// Renames an item.
    fn rename(&self, id: &str, name: &str) -> bool;
    /// Moves an item into a folder.
    fn move_to(&self, id: &str, parent: &str) -> bool;
    /// Deletes an item.
    fn delete(&self, id: &str) -> bool;
    /// Deletes a folder with everything in it, reporting only the folder as changed.
    fn delete_folder_reporting_only_it(&self, id: &str) -> bool;
    /// Serves faults on a schedule.
    fn set_chaos(&self, chaos: tonearm_fakes::Chaos);
    /// Answers the next request to `endpoint` with `fault`.
    fn inject(&self, endpoint: tonearm_fakes::Endpoint, fault: tonearm_fakes::Fault);
    /// Drops the faults not yet served.
    fn clear_faults(&self);
}

macro_rules! fake_files {
    ($ty:ty) => {
        impl FakeFiles for $ty {
            fn start(authority: tonearm_fakes::oauth::Authority) -> std::io::Result<Self> {
                <$ty>::start(authority)
            }
            fn url(&self) -> String {
                <$ty>::url(self)
            }
            fn add_file_at(&self, path: &str, bytes: &[u8]) -> String {
                <$ty>::add_file_at(self, path, bytes)
            }
            fn folder_at(&self, path: &str) -> String {
                <$ty>::folder_at(self, path)
            }
            fn update_content(&self, id: &str, bytes: &[u8]) -> bool {
                <$ty>::update_content(self, id, bytes)
            }
            fn rename(&self, id: &str, name: &str) -> bool {
                <$ty>::rename(self, id, name)
            }
            fn move_to(&self, id: &str, parent: &str) -> bool {
                <$ty>::move_to(self, id, parent)
            }
            fn delete(&self, id: &str) -> bool {
                <$ty>::delete(self, id)
            }
            fn delete_folder_reporting_only_it(&self, id: &str) -> bool {
                <$ty>::delete_folder_reporting_only_it(self, id)
            }
            fn inject(&self, endpoint: tonearm_fakes::Endpoint, fault: tonearm_fakes::Fault) {
                <$ty>::inject(self, endpoint, fault)
            }
            fn clear_faults(&self) {
                <$ty>::clear_faults(self)
            }
            fn set_chaos(&self, chaos: tonearm_fakes::Chaos) {
                <$ty>::set_chaos(self, chaos)
            }
        }
    };
}
fake_files!(FakeDrive);
fake_files!(FakeGraph);

/// A fake Drive, signed in.
pub type DriveCloud = Cloud<FakeDrive>;
/// A fake OneDrive, signed in.
pub type GraphCloud = Cloud<FakeGraph>;

/// A fake service + fake OAuth + a token store holding a signed-in source.
pub struct Cloud<S> {
    /// The authorization server.
    pub oauth: FakeOAuth,
    /// The service.
    pub service: S,
    /// The provider plugin's builtin form.
    descriptor: &'static tonearm_plugin_api::PluginDescriptor,
    /// The host's HTTP stack, with short backoff delays.
    pub http: Arc<HttpService>,
    /// The token store (in a temporary folder).
    pub tokens: Arc<TokenStore>,
    /// The event bus sessions report on.
    pub bus: EventBus,
    /// Keeps the runtime the HTTP clients block on.
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    paths: Mutex<HashMap<String, String>>,
    /// The plugin form providers are made from; the builtin when `None`.
    factory: Mutex<Option<Arc<dyn ProviderFactory>>>,
}

/// HTTP settings for tests: real retries, short waits.
pub fn test_http_settings() -> HttpSettings {
    HttpSettings {
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        requests_per_second: None,
        ..HttpSettings::default()
    }
}

impl DriveCloud {
    /// A fake Drive with the gdrive plugin, signed in as [`SOURCE`].
    pub fn start() -> Self {
        Cloud::with(&tonearm_plugin_gdrive::DESCRIPTOR)
    }
}

impl GraphCloud {
    /// A fake OneDrive with the onedrive plugin, signed in as [`SOURCE`].
    pub fn start() -> Self {
        Cloud::with(&tonearm_plugin_onedrive::DESCRIPTOR)
    }
}

impl<S: FakeFiles> Cloud<S> {
    /// Starts the fakes and stores a fresh sign-in for [`SOURCE`].
    ///
    /// # Panics
    ///
    /// If a server cannot start: tests cannot go on.
    pub fn with(descriptor: &'static tonearm_plugin_api::PluginDescriptor) -> Self {
        let oauth = FakeOAuth::start().expect("fake OAuth starts");
        let service = S::start(oauth.authority().clone()).expect("fake service starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let tokens = Arc::new(TokenStore::new(dir.path().join("tokens.json")));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let http = Arc::new(HttpService::new(test_http_settings()).expect("HTTP starts"));
        let cloud = Self {
            oauth,
            service,
            descriptor,
            http,
            tokens,
            bus: EventBus::new(4096),
            runtime,
            _dir: dir,
            paths: Mutex::new(HashMap::new()),
            factory: Mutex::new(None),
        };
        cloud.sign_in_directly();
        cloud
    }

    /// Stores a token pair issued by the fake, as a finished sign-in would.
    pub fn sign_in_directly(&self) {
        let pair = self.oauth.authority().issue("drive.readonly");
        let stored: StoredTokens = serde_json::from_value(serde_json::json!({
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": now() + pair.expires_in as i64,
            "client_id": "tonearm-test",
            "authorize_url": self.oauth.authorize_url(),
            "token_url": self.oauth.token_url(),
            "scopes": ["drive.readonly"],
        }))
        .expect("tokens parse");
        self.tokens.put(SOURCE, &stored).expect("tokens stored");
    }

    /// The source settings that point the plugin at the fake.
    pub fn settings(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("endpoint.api".to_owned(), self.service.url())])
    }

    /// A provider over the fake, as the host's sync uses it for [`SOURCE`] (calls the
    /// plugin calls temporary are retried).
    ///
    /// # Errors
    ///
    /// If the host refuses the capability or the plugin its settings.
    pub fn provider(&self, extra: &[(&str, &str)]) -> Result<Arc<dyn StorageProvider>, String> {
        Ok(Arc::new(tonearm_host::sync::RetryingProvider::new(
            self.plugin_provider(extra)?,
            tonearm_host::sync::RetryPolicy {
                attempts: 8,
                min_delay: Duration::from_millis(2),
                max_delay: Duration::from_millis(20),
            },
        )))
    }

    /// The plugin's provider itself, its errors unretried.
    ///
    /// # Errors
    ///
    /// If the host refuses the capability or the plugin its settings.
    pub fn plugin_provider(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<Arc<dyn StorageProvider>, String> {
        let _entered = self.runtime.enter();
        let mut settings = self.settings();
        for (k, v) in extra {
            settings.insert((*k).to_owned(), (*v).to_owned());
        }
        let manifest = (self.descriptor.manifest)();
        let http = self
            .http
            .client_for_source(&manifest, SOURCE, &settings, &self.tokens, &self.bus)
            .map_err(|e| e.to_string())?;
        let mut ctx = HostContext::new(
            Arc::new(TracingLog::new(&manifest.id)),
            Arc::new(SystemClock),
        )
        .with_http(http)
        .with_state(Arc::new(MemoryState::default()));
        ctx.settings = settings;
        let factory = self
            .factory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let factory = match factory {
            Some(factory) => factory,
            None => {
                let plugin =
                    tonearm_loader::load_builtin(self.descriptor).map_err(|e| e.to_string())?;
                let tonearm_loader::PluginHandle::StorageProvider(factory) = plugin.handle else {
                    return Err("not a storage provider".into());
                };
                factory
            }
        };
        factory.create(&ctx).map_err(|e| e.to_string())
    }

    /// Runs the provider conformance suite on this cloud while the fake serves `chaos`
    /// (then no more faults).
    ///
    /// # Panics
    ///
    /// If a check fails, with every failure.
    pub fn certify_under(self: &Arc<Self>, chaos: tonearm_fakes::Chaos)
    where
        S: 'static,
    {
        let id = (self.descriptor.manifest)().id;
        self.service.set_chaos(chaos);
        let report = tonearm_conformance::provider::check(&id, self.clone());
        self.service.set_chaos(tonearm_fakes::Chaos::default());
        assert!(report.is_success(), "{id}: {:#?}", report.failures());
    }

    /// Makes providers from `plugin` (a native library's or a component's) from now on.
    ///
    /// # Panics
    ///
    /// If `plugin` is not a storage provider.
    pub fn use_plugin(&self, plugin: tonearm_loader::LoadedPlugin) {
        let tonearm_loader::PluginHandle::StorageProvider(factory) = plugin.handle else {
            panic!("{} is not a storage provider", plugin.manifest.id);
        };
        *self.factory.lock().unwrap_or_else(PoisonError::into_inner) = Some(factory);
    }

    /// A library in a temporary folder with [`SOURCE`] added, and a syncer with this
    /// cloud's network, small batches and short retry delays (for tests).
    ///
    /// # Panics
    ///
    /// If the library cannot be made.
    pub async fn library(
        &self,
    ) -> (
        tempfile::TempDir,
        tonearm_host::SqliteStore,
        tonearm_host::sync::Syncer,
    ) {
        use tonearm_host::sync::{RetryPolicy, SyncOptions};
        self.library_with(SyncOptions {
            batch_size: 4,
            retry: RetryPolicy {
                attempts: 4,
                min_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            },
            ..SyncOptions::default()
        })
        .await
    }

    /// [`library`](Self::library) with the given sync options.
    ///
    /// # Panics
    ///
    /// If the library cannot be made.
    pub async fn library_with(
        &self,
        options: tonearm_host::sync::SyncOptions,
    ) -> (
        tempfile::TempDir,
        tonearm_host::SqliteStore,
        tonearm_host::sync::Syncer,
    ) {
        use tonearm_host::sync::{HostCapabilities, Syncer};
        use tonearm_net::Network;
        let dir = tempfile::tempdir().expect("temp dir");
        let library = tonearm_host::SqliteStore::open(&dir.path().join("library.db"))
            .await
            .expect("library opens");
        let manifest = (self.descriptor.manifest)();
        library
            .add_source(SOURCE, &manifest.id, &self.settings())
            .await
            .expect("source added");
        let registry = tonearm_host::Registry::new(self.bus.clone());
        for d in [self.descriptor, &tonearm_plugin_symphonia::DESCRIPTOR] {
            registry
                .register(tonearm_loader::load_builtin(d).expect("builtin loads"))
                .expect("registered");
        }
        let network = Network {
            http: self.http.clone(),
            tokens: self.tokens.clone(),
        };
        let syncer = Syncer::new(
            library.clone(),
            Arc::new(registry),
            HostCapabilities::with_network(network),
            options,
        );
        (dir, library, syncer)
    }

    fn id_of(&self, path: &str) -> Option<String> {
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .cloned()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl<S: FakeFiles> ProviderHarness for Cloud<S> {
    fn provider(&self) -> Result<Arc<dyn StorageProvider>, String> {
        Cloud::provider(self, &[("page_size", "7")])
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), String> {
        match self.id_of(path) {
            Some(id) => {
                self.service.update_content(&id, bytes);
            }
            None => {
                let id = self.service.add_file_at(path, bytes);
                self.paths
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(path.to_owned(), id);
            }
        }
        Ok(())
    }

    fn remove(&self, path: &str) -> Result<(), String> {
        let id = self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(path)
            .ok_or_else(|| format!("no file at {path}"))?;
        self.service.delete(&id);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        let id = self
            .paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(from)
            .ok_or_else(|| format!("no file at {from}"))?;
        let (folder, name) = to.rsplit_once('/').unwrap_or(("", to));
        let parent = self.service.folder_at(folder);
        self.service.move_to(&id, &parent);
        self.service.rename(&id, name);
        self.paths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(to.to_owned(), id);
        Ok(())
    }
}

impl<S: FakeFiles> Cloud<S> {
    /// A file whose download keeps failing through a whole sync (`fault`, more often than
    /// the host retries) is recorded as a passing failure, and the next sync reads it
    /// again and adds its track; a file the service serves but that is not audio stays
    /// failed until it changes.
    ///
    /// # Panics
    ///
    /// If any of that does not hold.
    pub fn check_passing_failures_are_read_again(&self, fault: tonearm_fakes::Fault) {
        use tonearm_conformance::fixtures::FixtureSet;
        let audio = &FixtureSet::bundled().audio;
        self.service
            .add_file_at(&format!("a/{}", audio[0].file), &audio[0].bytes);
        self.service
            .add_file_at("a/broken.flac", b"fLaC but nothing else");
        self.runtime.block_on(async {
            let (_dir, library, syncer) = self.library().await;
            let counts = syncer.sync_source(SOURCE).await.expect("first sync");
            assert_eq!(counts.failed, 1, "the damaged file: {counts:?}");
            // A new file whose every download fails.
            self.service
                .add_file_at(&format!("a/{}", audio[1].file), &audio[1].bytes);
            for _ in 0..200 {
                self.service
                    .inject(tonearm_fakes::Endpoint::Content, fault.clone());
            }
            let counts = syncer.sync_source(SOURCE).await.expect("the sync goes on");
            assert_eq!(counts.failed, 1, "{counts:?}");
            let failed = library.failed_files(10).await.expect("failed files");
            let temporary: Vec<_> = failed
                .iter()
                .filter(|f| f.retry.is_some())
                .map(|f| f.path.as_str())
                .collect();
            assert_eq!(
                temporary,
                [format!("a/{}", audio[1].file).as_str()],
                "{failed:?}"
            );
            // The service recovers: the next sync (an incremental one, in which the file
            // does not appear as changed) reads the file again.
            self.service.clear_faults();
            let counts = syncer.sync_source(SOURCE).await.expect("second sync");
            assert_eq!(counts.added, 1, "{counts:?}");
            let tracks = library.tracks(10, 0).await.expect("tracks");
            assert_eq!(tracks.len(), 2, "{tracks:?}");
            let failed = library.failed_files(10).await.expect("failed files");
            assert_eq!(failed.len(), 1, "only the damaged file: {failed:?}");
            assert_eq!(failed[0].path, "a/broken.flac");
            assert!(failed[0].retry.is_none());
            // The damaged file is not read again while it stays as it is.
            let counts = syncer.sync_source(SOURCE).await.expect("third sync");
            assert_eq!((counts.scanned, counts.failed), (0, 0), "{counts:?}");
        });
    }

    /// A folder deleted with everything in it, the change feed reporting only the folder,
    /// takes its tracks out of the library in the next sync (not at some later full
    /// listing); the rest stays.
    ///
    /// # Panics
    ///
    /// If any of that does not hold.
    pub fn check_a_deleted_folder_takes_its_tracks_at_once(&self) {
        use tonearm_conformance::fixtures::FixtureSet;
        let audio = &FixtureSet::bundled().audio;
        for (i, path) in ["gone/a", "gone/deeper/b", "kept/c"].iter().enumerate() {
            self.service
                .add_file_at(&format!("{path} {}", audio[i].file), &audio[i].bytes);
        }
        self.runtime.block_on(async {
            let (_dir, library, syncer) = self.library().await;
            let counts = syncer.sync_source(SOURCE).await.expect("first sync");
            assert_eq!(counts.added, 3, "{counts:?}");
            let folder = self.service.folder_at("gone");
            assert!(self.service.delete_folder_reporting_only_it(&folder));
            let counts = syncer.sync_source(SOURCE).await.expect("second sync");
            assert_eq!(counts.removed, 2, "{counts:?}");
            let tracks = library.tracks(10, 0).await.expect("tracks");
            let paths: Vec<&str> = tracks.iter().map(|t| t.path.as_str()).collect();
            assert_eq!(paths, [format!("kept/c {}", audio[2].file).as_str()]);
            // The next sync follows the change feed again.
            let counts = syncer.sync_source(SOURCE).await.expect("third sync");
            assert_eq!((counts.added, counts.removed), (0, 0), "{counts:?}");
        });
    }
}
