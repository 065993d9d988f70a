//! `lake serve`: the catalog in a browser, read only, and `lake docs build`: the same pages as
//! static files.
//!
//! Pages are HTML rendered on the server from the SQLite catalog (`src/serve/pages.rs`), with one
//! stylesheet and one small script embedded in the binary: no framework, no build step, no
//! network. The server binds 127.0.0.1 by default; any other address needs a token, checked on
//! every request (`Authorization: Bearer …`, or `?token=…` once, which sets a cookie). Under
//! `/api/` it answers the same JSON as the CLI's `--json`.

pub(crate) mod pages;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ident::DatasetRef;
use crate::lake::Lake;
use pages::Site;

/// How `lake serve` listens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    pub bind: SocketAddr,
    /// Required when `bind` is not a loopback address.
    pub token: Option<String>,
}

struct App {
    lake: Lake,
    token: Option<String>,
}

type Shared = Arc<App>;

/// A response from a `Result`: the page, or an error page with the status the error deserves.
enum Page {
    Html(String),
    Json(String),
    Svg(String),
    Error(StatusCode, String),
    JsonError(StatusCode, String),
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let (status, kind, body) = match self {
            Page::Html(b) => (StatusCode::OK, "text/html; charset=utf-8", b),
            Page::Json(b) => (StatusCode::OK, "application/json", b),
            Page::Svg(b) => (StatusCode::OK, "image/svg+xml", b),
            Page::JsonError(status, body) => (status, "application/json", body),
            Page::Error(status, message) => (
                status,
                "text/html; charset=utf-8",
                pages::error(Site::Server, status.as_u16(), &message).into_string(),
            ),
        };
        (status, [(header::CONTENT_TYPE, kind)], body).into_response()
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::DatasetNotFound { .. }
        | Error::VersionNotFound { .. }
        | Error::RunNotFound { .. }
        | Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::InvalidName { .. } | Error::InvalidRef { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn html(r: Result<maud::Markup>) -> Page {
    match r {
        Ok(m) => Page::Html(m.into_string()),
        Err(e) => Page::Error(status_of(&e), e.to_string()),
    }
}

fn json<T: serde::Serialize>(r: Result<T>) -> Page {
    match r {
        Ok(v) => Page::Json(
            crate::json_document(&v)
                .and_then(|d| serde_json::to_string_pretty(&d))
                .expect("reports serialize"),
        ),
        Err(e) => {
            let status = status_of(&e);
            let body = serde_json::json!({ "error": e.to_string(), "status": status.as_u16() });
            Page::JsonError(status, body.to_string())
        }
    }
}

/// The router of every page and API route; see the README for the list.
fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/search", get(search))
        .route("/storage", get(storage))
        .route("/lineage", get(lineage_all))
        .route("/lineage/{dataset}", get(lineage_of))
        .route("/lineage/{dataset}/svg", get(lineage_svg))
        .route("/dataset/{dataset}", get(dataset))
        .route("/version/{reference}", get(version))
        .route("/assets/lake.css", get(css))
        .route("/assets/lake.js", get(js))
        .route("/api/ls", get(api_ls))
        .route("/api/show/{reference}", get(api_show))
        .route("/api/log/{dataset}", get(api_log))
        .route("/api/lineage/{reference}", get(api_lineage))
        .route("/api/search", get(api_search))
        .route("/api/runs", get(api_runs))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Serve until `shutdown` resolves; `ready` is told the address once listening.
pub async fn serve(
    lake: Lake,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let token = options.token.filter(|t| !t.is_empty());
    if !options.bind.ip().is_loopback() && token.is_none() {
        return Err(Error::ServeToken {
            bind: options.bind.to_string(),
        });
    }
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| Error::ServeBind {
            bind: options.bind.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::ServeBind {
        bind: options.bind.to_string(),
        source,
    })?;
    ready(addr);
    let app = Arc::new(App { lake, token });
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::ServeBind {
            bind: addr.to_string(),
            source,
        })
}

/// Every request: the token where one is set, and headers that keep pages to themselves.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let query_token = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(expected) = &app.token {
        let given = bearer(request.headers())
            .or_else(|| cookie(request.headers()))
            .or_else(|| query_token.clone());
        if !given.is_some_and(|g| same(g.as_bytes(), expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a token is required: `Authorization: Bearer TOKEN` or ?token=TOKEN\n",
            )
                .into_response();
        }
    }
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    let headers = response.headers_mut();
    // What the page cost the server, for browsers' network panels and bench/serve.sh.
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={took:.2}")) {
        headers.insert("server-timing", v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let (Some(t), Some(_)) = (query_token, &app.token)
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lake_token={t}; HttpOnly; SameSite=Strict; Path=/"
        ))
    {
        headers.insert(header::SET_COOKIE, v);
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("lake_token=").map(str::to_string))
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn dataset_ref(text: &str) -> Result<DatasetRef> {
    DatasetRef::parse_dataset(text)
}

async fn home(State(app): State<Shared>) -> Page {
    html(pages::home(&app.lake, Site::Server))
}

async fn search(State(app): State<Shared>, Query(p): Query<pages::SearchParams>) -> Page {
    html(pages::search(&app.lake, Site::Server, &p))
}

async fn storage(State(app): State<Shared>) -> Page {
    html(pages::storage(&app.lake, Site::Server))
}

#[derive(Debug, Deserialize)]
struct LineageParams {
    depth: Option<usize>,
    columns: Option<String>,
}

async fn lineage_all(State(app): State<Shared>) -> Page {
    html(pages::lineage(&app.lake, Site::Server, None, 0, false))
}

async fn lineage_of(
    State(app): State<Shared>,
    UrlPath(dataset): UrlPath<String>,
    Query(p): Query<LineageParams>,
) -> Page {
    html(dataset_ref(&dataset).and_then(|d| {
        pages::lineage(
            &app.lake,
            Site::Server,
            Some(&d),
            p.depth.unwrap_or(1).clamp(1, 50),
            p.columns.is_some(),
        )
    }))
}

async fn lineage_svg(
    State(app): State<Shared>,
    UrlPath(dataset): UrlPath<String>,
    Query(p): Query<LineageParams>,
) -> Page {
    let depth = p.depth.unwrap_or(1).clamp(1, 50);
    match dataset_ref(&dataset)
        .and_then(|d| pages::lineage_picture(&app.lake, Site::Server, Some(&d), depth))
    {
        Ok(svg) => Page::Svg(svg),
        Err(e) => Page::Error(status_of(&e), e.to_string()),
    }
}

async fn dataset(State(app): State<Shared>, UrlPath(dataset): UrlPath<String>) -> Page {
    match dataset_ref(&dataset) {
        Ok(d) => html(pages::dataset(&app.lake, Site::Server, &d).await),
        Err(e) => html(Err(e)),
    }
}

async fn version(State(app): State<Shared>, UrlPath(reference): UrlPath<String>) -> Page {
    match reference.parse::<DatasetRef>() {
        Ok(r) if r.selector.is_some() => html(pages::version(&app.lake, Site::Server, &r).await),
        Ok(r) => html(Err(Error::InvalidRef {
            input: r.to_string(),
            reason: "a version page needs a version: bronze.orders@v3".into(),
        })),
        Err(e) => html(Err(e)),
    }
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        pages::JS,
    )
}

async fn not_found() -> Page {
    Page::Error(StatusCode::NOT_FOUND, "There is no such page.".into())
}

async fn api_ls(State(app): State<Shared>) -> Page {
    json(app.lake.datasets(None))
}

async fn api_show(State(app): State<Shared>, UrlPath(reference): UrlPath<String>) -> Page {
    json(
        reference
            .parse::<DatasetRef>()
            .and_then(|r| app.lake.describe(&r)),
    )
}

async fn api_log(State(app): State<Shared>, UrlPath(dataset): UrlPath<String>) -> Page {
    json(dataset_ref(&dataset).and_then(|d| app.lake.log(&d)))
}

async fn api_lineage(
    State(app): State<Shared>,
    UrlPath(reference): UrlPath<String>,
    Query(p): Query<LineageParams>,
) -> Page {
    json(reference.parse::<DatasetRef>().and_then(|r| {
        app.lake
            .lineage(&r, crate::lineage::Direction::Both, p.depth)
    }))
}

async fn api_search(State(app): State<Shared>, Query(p): Query<pages::SearchParams>) -> Page {
    let filter = crate::catalog::search::SearchFilter {
        zone: p.zone.clone().filter(|z| !z.is_empty()),
        labels: Vec::new(),
        owner: p.owner.clone().filter(|o| !o.is_empty()),
        column: p.column.clone().filter(|c| !c.is_empty()),
        ever: false,
    };
    json(app.lake.search(&p.q, &filter, 100))
}

#[derive(Debug, Deserialize)]
struct RunsParams {
    job: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn api_runs(State(app): State<Shared>, Query(p): Query<RunsParams>) -> Page {
    json(app.lake.runs(&crate::catalog::RunFilter {
        jobs: p.job.into_iter().collect(),
        status: p.status,
        since: None,
        limit: p.limit.unwrap_or(50),
    }))
}

/// What `lake docs build` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocsReport {
    /// The folder written.
    pub dir: String,
    /// Pages written.
    pub pages: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Write every page as a static file into `dir`: home, search, storage, lineage, and each
/// dataset with its lineage and versions.
pub async fn build_docs(lake: &Lake, dir: &Path) -> Result<DocsReport> {
    let site = Site::Static;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut report = DocsReport {
        dir: dir.display().to_string(),
        pages: 0,
        bytes: 0,
    };
    let mut write = |name: &str, body: String| -> Result<()> {
        let path = dir.join(name);
        report.bytes += body.len() as u64;
        report.pages += 1;
        std::fs::write(&path, body).map_err(|source| Error::Io { path, source })
    };
    write("lake.css", pages::CSS.to_string())?;
    write("lake.js", pages::JS.to_string())?;
    write("index.html", pages::home(lake, site)?.into_string())?;
    write("search.html", pages::static_search(lake)?.into_string())?;
    write("storage.html", pages::storage(lake, site)?.into_string())?;
    write(
        "lineage.html",
        pages::lineage(lake, site, None, 0, false)?.into_string(),
    )?;
    for d in lake.datasets(None)? {
        let name = d.dataset.to_string();
        write(
            &format!("dataset-{name}.html"),
            pages::dataset(lake, site, &d.dataset).await?.into_string(),
        )?;
        write(
            &format!("lineage-{name}.html"),
            pages::lineage(lake, site, Some(&d.dataset), 1, true)?.into_string(),
        )?;
        for e in lake.log(&d.dataset)? {
            let r = e.version.reference();
            write(
                &format!("version-{r}.html"),
                pages::version(lake, site, &r).await?.into_string(),
            )?;
        }
    }
    // Counted as pages, the two assets are not.
    report.pages -= 2;
    Ok(report)
}
