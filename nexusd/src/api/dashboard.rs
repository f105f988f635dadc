//! The web dashboard over plain HTTP, as a tower layer in front of the
//! bearer check (these routes need no token): the files `web/` builds into
//! `web/dist`, embedded in the binary, and the sign-in that turns a
//! one-time code into the session cookie.
//!
//! - `GET /` and the app's routes (`/workspaces…`, `/team…`): `index.html`,
//!   revalidated on every load (`no-cache`), with a strict CSP. Without a
//!   built dashboard, a page saying how to build it.
//! - `GET /assets/<hashed name>`: cached a year (`immutable`), brotli when
//!   the browser accepts it; a missing asset is a plain 404, never HTML.
//! - `GET /login?code=<code>`: sets the cookie [`SESSION_COOKIE`]
//!   (HttpOnly, SameSite=Strict) and goes on to `/`.
//! - `POST /logout`: ends the cookie's session and clears it.
//!
//! A WebSocket upgrade of `/`, and every other request, goes on to the API.

use super::Ctx;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The dashboard session cookie's name.
pub const SESSION_COOKIE: &str = "nexus_session";

/// The built dashboard (`web/dist`, made by `npm run build` in `web/`);
/// empty when the daemon was built without it. Debug builds read the
/// folder at run time, release builds carry its files.
#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../web/dist"]
#[allow_missing = true]
struct Assets;

/// The page served instead of the dashboard when it is not built in.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Nexus</title>\
<body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto;line-height:1.5\">\
<h1>The dashboard is not built into this nexusd</h1>\
<p>Build it with Node 20 or newer, then rebuild the daemon: run <code>scripts/setup.sh</code>, \
or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and <code>cargo build -p nexusd</code>.</p>\
<p>The JSON-RPC API on this port works without it.</p></body></html>";

/// The Content-Security-Policy of the app's pages: its own files only.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Whether `path` is one of the app's own routes (answered with `index.html`).
fn app_route(path: &str) -> bool {
    let under = |root: &str| path == root || path.starts_with(&format!("{root}/"));
    path == "/" || under("/workspaces") || under("/team") || under("/audit") || under("/settings")
}

/// The layer.
#[derive(Clone)]
pub struct Dashboard {
    ctx: Ctx,
}

impl Dashboard {
    /// The dashboard's routes, signing in through `ctx`.
    pub fn new(ctx: Ctx) -> Dashboard {
        Dashboard { ctx }
    }
}

impl<S> tower::Layer<S> for Dashboard {
    type Service = DashboardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DashboardService {
            inner,
            ctx: self.ctx.clone(),
        }
    }
}

/// The service made by [`Dashboard`].
#[derive(Clone)]
pub struct DashboardService<S> {
    inner: S,
    ctx: Ctx,
}

/// An answer with `status`, `body` and `headers`.
fn answer(status: u16, body: impl Into<HttpBody>, headers: &[(http::HeaderName, String)]) -> HttpResponse {
    let mut resp = HttpResponse::new(body.into());
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            resp.headers_mut().insert(name.clone(), v);
        }
    }
    resp
}

/// The headers every dashboard answer carries.
fn common() -> Vec<(http::HeaderName, String)> {
    vec![
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (http::header::REFERRER_POLICY, "no-referrer".into()),
    ]
}

/// Whether the request's `Accept-Encoding` names brotli.
fn accepts_brotli(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';').map(str::trim);
            parts.next() == Some("br") && !parts.any(|q| q == "q=0")
        })
}

/// A built file by its path under `web/dist`, brotli-compressed when
/// `brotli` and a `.br` twin exists; `cache` is its Cache-Control.
fn file(name: &str, brotli: bool, cache: &str) -> Option<HttpResponse> {
    let plain = Assets::get(name)?;
    let mut headers = common();
    headers.push((http::header::CONTENT_TYPE, content_type(name, &plain)));
    headers.push((http::header::CACHE_CONTROL, cache.into()));
    headers.push((http::header::VARY, "Accept-Encoding".into()));
    if name.ends_with(".html") {
        headers.push((http::header::CONTENT_SECURITY_POLICY, CSP.into()));
    }
    let compressed = brotli.then(|| Assets::get(&format!("{name}.br"))).flatten();
    let body = match compressed {
        Some(br) => {
            headers.push((http::header::CONTENT_ENCODING, "br".into()));
            br.data.into_owned()
        }
        None => plain.data.into_owned(),
    };
    Some(answer(200, body, &headers))
}

/// The Content-Type of built file `name`.
fn content_type(name: &str, file: &rust_embed::EmbeddedFile) -> String {
    let mime = file.metadata.mimetype();
    if mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json") || mime.ends_with("svg+xml")
    {
        format!("{mime}; charset=utf-8")
    } else if name.ends_with(".woff2") {
        "font/woff2".into()
    } else {
        mime.to_string()
    }
}

/// `GET` of an app route: `index.html`, or the page saying how to build it.
fn index(brotli: bool) -> HttpResponse {
    file("index.html", brotli, "no-cache").unwrap_or_else(|| {
        let mut headers = common();
        headers.push((http::header::CONTENT_TYPE, "text/html; charset=utf-8".into()));
        headers.push((http::header::CACHE_CONTROL, "no-store".into()));
        answer(200, NOT_BUILT, &headers)
    })
}

/// `GET /assets/…` and the dashboard's other files; `None` hands the
/// request on.
fn asset(path: &str, brotli: bool) -> Option<HttpResponse> {
    let name = path.strip_prefix('/')?;
    if let Some(rest) = name.strip_prefix("assets/") {
        let found = (!rest.ends_with(".br"))
            .then(|| file(name, brotli, "public, max-age=31536000, immutable"))
            .flatten();
        return Some(found.unwrap_or_else(|| {
            let mut headers = common();
            headers.push((http::header::CONTENT_TYPE, "text/plain; charset=utf-8".into()));
            headers.push((http::header::CACHE_CONTROL, "no-store".into()));
            answer(404, format!("no such asset: {path}\n"), &headers)
        }));
    }
    // top-level files of the build (favicon.svg): revalidated on every load
    (name != "index.html" && !name.ends_with(".br") && !name.contains('/'))
        .then(|| file(name, brotli, "no-cache"))
        .flatten()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request's `Origin` is the daemon's own (its scheme aside:
/// the host and port the browser sent in `Host`). A request without
/// `Origin` is not.
pub fn same_origin(req: &HttpRequest) -> bool {
    let host = req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok());
    let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// A small HTML page with `title` and `text`, never cached.
fn page(status: u16, title: &str, text: &str, extra: &[(http::HeaderName, String)]) -> HttpResponse {
    let mut headers = common();
    headers.push((http::header::CONTENT_TYPE, "text/html; charset=utf-8".into()));
    headers.push((http::header::CACHE_CONTROL, "no-store".into()));
    headers.push((
        http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'".into(),
    ));
    headers.extend_from_slice(extra);
    let body = format!("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>{text}</html>");
    answer(status, body, &headers)
}

/// `GET /login?code=…`: the session cookie, then `/` (a same-origin
/// navigation of the page itself, so the SameSite=Strict cookie goes with
/// it even when the link was opened from another site).
fn login(ctx: &Ctx, query: Option<&str>) -> HttpResponse {
    let code = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap_or("");
    match ctx.dashboard_sign_in(code) {
        Ok(secret) => {
            let max_age = crate::workspace::DASHBOARD_SESSION_IDLE;
            let cookie = format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
            page(
                200,
                "Signed in · Nexus",
                "<meta http-equiv=\"refresh\" content=\"0; url=/\"><body style=\"font-family:system-ui\">\
                 <p>Signed in. <a href=\"/\">Open the dashboard</a>.</p></body>",
                &[(http::header::SET_COOKIE, cookie)],
            )
        }
        Err(e) => page(
            401,
            "Sign-in link refused · Nexus",
            &format!(
                "<body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\"><h1>Sign-in link refused</h1><p>{}</p></body>",
                html_escape(&e.to_string())
            ),
            &[],
        ),
    }
}

/// `POST /logout`: ends the cookie's session (a foreign `Origin` gets 403).
fn logout(ctx: &Ctx, req: &HttpRequest) -> HttpResponse {
    if !same_origin(req) {
        return page(
            403,
            "Refused · Nexus",
            "<body>cross-origin sign-out refused</body>",
            &[],
        );
    }
    if let Some(secret) = cookie(req, SESSION_COOKIE)
        && let Err(e) = ctx.dashboard_sign_out(&secret)
    {
        tracing::warn!("dashboard sign-out: {e}");
    }
    let cleared = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    answer(204, "", &[(http::header::SET_COOKIE, cleared)])
}

/// `text` with HTML's special characters escaped.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl<S> tower::Service<HttpRequest> for DashboardService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let path = req.uri().path();
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        let answered = match *req.method() {
            http::Method::GET if path == "/login" => Some(login(&self.ctx, req.uri().query())),
            http::Method::POST if path == "/logout" => Some(logout(&self.ctx, &req)),
            http::Method::GET | http::Method::HEAD if !upgrade => {
                let brotli = accepts_brotli(&req);
                if app_route(path) {
                    Some(index(brotli))
                } else {
                    asset(path, brotli)
                }
            }
            _ => None,
        };
        match answered {
            Some(resp) => Box::pin(async move { Ok(resp) }),
            None => Box::pin(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut b = http::Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(HttpBody::from("")).expect("request")
    }

    #[test]
    fn app_routes_are_the_pages_and_not_the_api() {
        for page in [
            "/",
            "/workspaces",
            "/workspaces/new",
            "/workspaces/a-b",
            "/team",
            "/audit",
        ] {
            assert!(app_route(page), "{page}");
        }
        for other in [
            "/health",
            "/metrics",
            "/fs/read",
            "/mcp",
            "/assets/a.js",
            "/workspacesx",
            "/login",
        ] {
            assert!(!app_route(other), "{other}");
        }
    }

    #[test]
    fn brotli_is_chosen_only_when_accepted() {
        assert!(accepts_brotli(&request(
            "/",
            &[("accept-encoding", "gzip, deflate, br, zstd")]
        )));
        assert!(accepts_brotli(&request("/", &[("accept-encoding", "br;q=1.0")])));
        assert!(!accepts_brotli(&request("/", &[("accept-encoding", "gzip, br;q=0")])));
        assert!(!accepts_brotli(&request("/", &[("accept-encoding", "gzip")])));
        assert!(!accepts_brotli(&request("/", &[])));
    }

    #[test]
    fn a_missing_asset_is_a_plain_404_and_html_is_never_its_answer() {
        let resp = asset("/assets/index-00000000.js", true).expect("answered");
        assert_eq!(resp.status(), 404);
        let kind = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        assert_eq!(kind, Some("text/plain; charset=utf-8"));
        assert_eq!(
            asset("/assets/x.js.br", true).map(|r| r.status()),
            Some(http::StatusCode::NOT_FOUND)
        );
        assert!(asset("/nothing-here.txt", true).is_none(), "handed on to the API");
    }

    #[test]
    fn every_built_file_is_served_with_its_cache_and_encoding() {
        // with the dashboard built (scripts/setup.sh), check each file's headers
        for name in Assets::iter().filter(|n| !n.ends_with(".br") && n.as_ref() != "index.html") {
            let resp = asset(&format!("/{name}"), true).expect("a built file is served");
            assert_eq!(resp.status(), 200, "{name}");
            let header = |h: http::HeaderName| {
                resp.headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            let cache = header(http::header::CACHE_CONTROL);
            if name.starts_with("assets/") {
                assert_eq!(cache, "public, max-age=31536000, immutable", "{name}");
            } else {
                assert_eq!(cache, "no-cache", "{name}");
            }
            let twin = Assets::get(&format!("{name}.br")).is_some();
            assert_eq!(header(http::header::CONTENT_ENCODING) == "br", twin, "{name}");
            assert!(!header(http::header::CONTENT_TYPE).is_empty(), "{name}");
        }
        let page = index(false);
        assert_eq!(page.status(), 200);
        let cache = page
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok());
        assert!(matches!(cache, Some("no-cache" | "no-store")), "{cache:?}");
    }

    #[test]
    fn cookies_and_origins_are_read_exactly() {
        let req = request(
            "/",
            &[
                ("cookie", "a=1; nexus_session=nxs_abc; b=2"),
                ("host", "127.0.0.1:7777"),
                ("origin", "http://127.0.0.1:7777"),
            ],
        );
        assert_eq!(cookie(&req, SESSION_COOKIE).as_deref(), Some("nxs_abc"));
        assert_eq!(cookie(&req, "nexus"), None);
        assert!(same_origin(&req));
        let foreign = request("/", &[("host", "127.0.0.1:7777"), ("origin", "http://evil.example")]);
        assert!(!same_origin(&foreign));
        let other_port = request("/", &[("host", "127.0.0.1:7777"), ("origin", "http://127.0.0.1:7778")]);
        assert!(!same_origin(&other_port));
        assert!(!same_origin(&request("/", &[("host", "127.0.0.1:7777")])), "no Origin");
    }
}
