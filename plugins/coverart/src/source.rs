//! Fetching a release's front cover, following the archive's redirects.

use std::sync::Arc;

use tonearm_plugin_api::{
    Artwork, ArtworkRequest, HostContext, HttpClient, HttpRequest, MetadataSource, PluginError,
    PluginResult,
};

use crate::MAX_REDIRECTS;

/// The thumbnail sizes the archive makes, smallest first.
const SIZES: [u32; 3] = [250, 500, 1200];

/// The Cover Art Archive metadata source.
pub struct CoverArt {
    http: Arc<dyn HttpClient>,
    base: String,
}

impl CoverArt {
    /// The source over `ctx`'s HTTP, at `endpoint.api` or coverartarchive.org.
    pub fn new(ctx: &HostContext) -> PluginResult<Self> {
        let base = ctx
            .settings
            .get("endpoint.api")
            .map_or(crate::API, String::as_str);
        Ok(Self {
            http: ctx.require_http()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn get(&self, url: &str) -> PluginResult<tonearm_plugin_api::HttpResponse> {
        self.http.send(HttpRequest {
            method: "GET".into(),
            url: url.to_owned(),
            headers: vec![("Accept".into(), "image/*".into())],
            body: Vec::new(),
        })
    }
}

/// The image name for `max_edge`: the smallest thumbnail at least that large, the
/// largest one past them all, the original for none.
pub fn front_for(max_edge: Option<u32>) -> (String, Option<u32>) {
    match max_edge {
        None => ("front".into(), None),
        Some(edge) => {
            let size = SIZES
                .into_iter()
                .find(|s| *s >= edge)
                .unwrap_or(SIZES[SIZES.len() - 1]);
            (format!("front-{size}"), Some(size))
        }
    }
}

/// `location` resolved against `url` (an absolute URL, or a path on `url`'s origin).
fn resolve(url: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let origin_end = url
        .find("://")
        .and_then(|scheme| url[scheme + 3..].find('/').map(|p| scheme + 3 + p))
        .unwrap_or(url.len());
    format!(
        "{}/{}",
        &url[..origin_end],
        location.trim_start_matches('/')
    )
}

fn is_mbid(id: &str) -> bool {
    id.len() == 36
        && id.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl MetadataSource for CoverArt {
    fn artwork(&self, request: &ArtworkRequest) -> PluginResult<Option<Artwork>> {
        // The archive indexes art by release only.
        let Some(release) = request.release_id.as_deref() else {
            return Ok(None);
        };
        if !is_mbid(release) {
            return Err(PluginError::Invalid(format!(
                "not a release MBID: {release:?}"
            )));
        }
        let (name, size) = front_for(request.max_edge);
        let mut url = format!("{}/release/{release}/{name}", self.base);
        for _ in 0..=MAX_REDIRECTS {
            let response = self.get(&url)?;
            match response.status {
                200 => {
                    let mime = response
                        .header("content-type")
                        .map(|m| m.split(';').next().unwrap_or(m).trim().to_owned())
                        .unwrap_or_default();
                    return Ok(Some(Artwork {
                        mime,
                        max_edge: size,
                        bytes: response.body,
                    }));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let Some(location) = response.header("location") else {
                        return Err(PluginError::Corrupt(format!(
                            "the archive redirected ({}) without a Location",
                            response.status
                        )));
                    };
                    url = resolve(&url, location);
                }
                404 => return Ok(None),
                400 => return Err(PluginError::Invalid(format!("the archive refused {url}"))),
                429 | 503 => return Err(PluginError::RateLimited { retry_after: None }),
                status if status >= 500 => {
                    return Err(PluginError::Transient(format!(
                        "the archive answered {status}"
                    )));
                }
                status => {
                    return Err(PluginError::Invalid(format!(
                        "the archive answered {status} for {url}"
                    )));
                }
            }
        }
        Err(PluginError::Corrupt(format!(
            "more than {MAX_REDIRECTS} redirects for the cover of release {release}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_thumbnail_not_smaller_is_asked_for() {
        assert_eq!(front_for(None), ("front".into(), None));
        assert_eq!(front_for(Some(100)), ("front-250".into(), Some(250)));
        assert_eq!(front_for(Some(500)), ("front-500".into(), Some(500)));
        assert_eq!(front_for(Some(4000)), ("front-1200".into(), Some(1200)));
    }

    #[test]
    fn locations_resolve_against_the_origin() {
        assert_eq!(
            resolve(
                "https://coverartarchive.org/release/x/front",
                "https://archive.org/a.jpg"
            ),
            "https://archive.org/a.jpg"
        );
        assert_eq!(
            resolve("http://127.0.0.1:9/release/x/front", "/img/a.jpg"),
            "http://127.0.0.1:9/img/a.jpg"
        );
    }
}
