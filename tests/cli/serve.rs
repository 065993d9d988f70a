//! `lake serve` over real HTTP on 127.0.0.1, `lake docs build`, and a real browser.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::util::{TestLake, text};

/// The sample lake of the demo: the bundled exports ingested, the sample jobs promoted, and a
/// description that tries to inject a script.
fn sample_lake() -> TestLake {
    let lake = TestLake::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = repo.join("examples/data");
    let ingest = |src: &str, into: &str, extra: &[&str]| {
        lake.cmd(["ingest", data.join(src).to_str().unwrap(), "--into", into])
            .args(extra)
            .assert()
            .success();
    };
    ingest("customers.csv", "bronze.customers", &[]);
    ingest(
        "orders/orders-2026-01.csv",
        "bronze.orders",
        &["--null-value", "NA"],
    );
    ingest(
        "orders/orders-2026-02.csv",
        "bronze.orders",
        &["--null-value", "NA"],
    );
    ingest("events.ndjson", "bronze.events", &[]);
    crate::util::copy_dir(&repo.join("examples/jobs"), &lake.path().join("jobs"));
    lake.cmd(["promote"]).assert().success();
    lake.cmd([
        "annotate",
        "bronze.orders",
        "--description",
        "Shop orders <script>alert(1)</script> & more",
        "--owner",
        "shop-team",
    ])
    .assert()
    .success();
    lake
}

/// A `lake serve` process, stopped by its PID when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(lake: &TestLake, args: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("lake"))
            .current_dir(lake.path())
            .env_remove("LAKE_DIR")
            .env_remove("LAKE_SERVE_TOKEN")
            .args(["serve", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("lake serve did not start: {line:?} {err}");
        });
        let url = ready["url"].as_str().unwrap();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .replace("0.0.0.0", "127.0.0.1");
        Server { child, addr }
    }

    fn get(&self, path: &str) -> Response {
        get(&self.addr, path, &[])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// One HTTP/1.1 GET over a plain socket.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

fn html(r: &Response) -> &str {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    &r.body
}

#[test]
fn every_route_answers_with_its_status_type_and_escaped_content() {
    let lake = sample_lake();
    let server = Server::start(&lake, &["--bind", "127.0.0.1:0"]);

    let home = server.get("/");
    let body = html(&home);
    for name in [
        "bronze.orders",
        "silver",
        "gold",
        "Recent versions",
        "Storage",
    ] {
        assert!(body.contains(name), "home lacks {name}");
    }
    assert!(home.header("content-security-policy").is_some());
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));

    // The description is shown, escaped, everywhere it appears.
    let page = server.get("/dataset/bronze.orders");
    let body = html(&page);
    assert!(
        body.contains("Shop orders &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
        "{body}"
    );
    assert!(!body.contains("<script>alert(1)"));
    for part in [
        "Schema",
        "Versions",
        "Preview",
        "owner: shop-team",
        "order_id",
    ] {
        assert!(body.contains(part), "dataset page lacks {part}");
    }
    let silver = html(&server.get("/dataset/silver.orders_clean")).to_string();
    assert!(
        silver.contains("class=\"kw\""),
        "the job SQL is highlighted"
    );
    assert!(silver.contains("Checks"));

    let search = server.get("/search?q=shop");
    assert!(html(&search).contains("/dataset/bronze.orders"));
    assert!(!html(&search).contains("<script>alert(1)"));
    let fragment = server.get("/search?q=orders&fragment=1");
    assert!(fragment.body.contains("/dataset/bronze.orders"));
    assert!(!fragment.body.contains("<html"));

    let version = server.get("/version/bronze.orders@v2");
    let body = html(&version);
    for part in ["Files", "Sources", "Since", "sha256:"] {
        assert!(body.contains(part), "version page lacks {part}");
    }
    assert!(html(&server.get("/version/gold.customer_features@v1")).contains("Inputs"));

    let lineage = server.get("/lineage");
    assert!(html(&lineage).contains("<svg"));
    let around = server.get("/lineage/silver.orders_clean?depth=1&columns=1");
    assert!(html(&around).contains("class=\"node\""));
    let svg = server.get("/lineage/gold.customer_features/svg?depth=3");
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.body.starts_with("<svg"));
    assert!(html(&server.get("/storage")).contains("Datasets"));
    let css = server.get("/assets/lake.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let js = server.get("/assets/lake.js");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );

    // Unknown things are 404, malformed ones 400.
    assert_eq!(server.get("/dataset/bronze.nope").status, 404);
    assert_eq!(server.get("/version/bronze.orders@v99").status, 404);
    assert_eq!(server.get("/lineage/gold.nope").status, 404);
    assert_eq!(server.get("/nope").status, 404);
    assert_eq!(server.get("/dataset/Not%20A%20Name").status, 400);

    // The API answers what the CLI's --json says.
    let api = |path: &str| {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        r.json()
    };
    assert_eq!(api("/api/ls"), lake.json(["ls"]));
    assert_eq!(
        api("/api/show/bronze.orders"),
        lake.json(["show", "bronze.orders"])
    );
    assert_eq!(
        api("/api/show/bronze.orders@v1"),
        lake.json(["show", "bronze.orders@v1"])
    );
    assert_eq!(
        api("/api/log/bronze.orders"),
        lake.json(["log", "bronze.orders"])
    );
    assert_eq!(
        api("/api/lineage/gold.customer_features"),
        lake.json(["lineage", "gold.customer_features"])
    );
    let mut hits = api("/api/search?q=orders");
    let mut cli = lake.json(["search", "orders"]);
    hits["took_ms"] = Value::Null;
    cli["took_ms"] = Value::Null;
    assert_eq!(hits, cli);
    assert_eq!(api("/api/runs"), lake.json(["runs"]));
    let missing = server.get("/api/show/bronze.nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert!(
        missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("bronze.nope")
    );
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 1, 10);
    let out = lake
        .cmd(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("LAKE_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("needs a token"), "{:?}", text(&out));

    let server = Server::start(&lake, &["--bind", "0.0.0.0:0", "--token", "s3cret-token"]);
    for path in [
        "/",
        "/api/ls",
        "/dataset/bronze.orders",
        "/assets/lake.css",
        "/nope",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 401, "{path}");
        assert!(!r.body.contains("bronze.orders"));
    }
    assert_eq!(
        get(
            &server.addr,
            "/",
            &[("Authorization", "Bearer wrong-token!")]
        )
        .status,
        401
    );
    let ok = get(
        &server.addr,
        "/api/ls",
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json(), lake.json(["ls"]));
    // A link with the token once; the cookie it sets after that.
    let first = server.get("/?token=s3cret-token");
    assert_eq!(first.status, 200);
    let cookie = first.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        get(&server.addr, "/dataset/bronze.orders", &[("Cookie", pair)]).status,
        200
    );
}

#[test]
fn docs_build_writes_the_same_pages_as_static_files() {
    let lake = sample_lake();
    let r = lake.json(["docs", "build", "-o", "site"]);
    let site = lake.path().join("site");
    let versions: usize = lake
        .json(["ls"])
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["versions"].as_u64().unwrap() as usize)
        .sum();
    let datasets = lake.json(["ls"]).as_array().unwrap().len();
    assert_eq!(
        r["pages"].as_u64().unwrap() as usize,
        4 + 2 * datasets + versions,
        "{r}"
    );
    for page in [
        "index.html",
        "search.html",
        "storage.html",
        "lineage.html",
        "dataset-bronze.orders.html",
        "lineage-bronze.orders.html",
        "version-bronze.orders@v2.html",
        "lake.css",
        "lake.js",
    ] {
        assert!(site.join(page).is_file(), "{page}");
    }
    let page = std::fs::read_to_string(site.join("dataset-bronze.orders.html")).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert(1)"));
    assert!(
        page.contains("href=\"version-bronze.orders@v2.html\""),
        "links are relative"
    );
    assert!(!page.contains("href=\"/"), "no link leaves the folder");
}

/// The sample lake's dataset graph as the CLI reports it: every dataset, and each edge from a
/// dataset to one its latest version was computed from.
fn expected_graph(lake: &TestLake) -> (usize, usize) {
    let datasets = lake.json(["ls"]);
    let mut edges = std::collections::BTreeSet::new();
    for d in datasets.as_array().unwrap() {
        let name = d["dataset"].as_str().unwrap();
        let l = lake.json(["lineage", name, "--upstream", "--depth", "1"]);
        for e in l["edges"].as_array().unwrap() {
            let input = e[0]
                .as_str()
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_string();
            if input != name {
                edges.insert((input, name.to_string()));
            }
        }
    }
    (datasets.as_array().unwrap().len(), edges.len())
}

#[test]
fn a_real_browser_renders_the_pages_and_the_lineage_graph() {
    let Some(chromium) = std::env::var("LAKE_TEST_CHROMIUM")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipping: LAKE_TEST_CHROMIUM is not set (scripts/test.sh installs Chromium)");
        return;
    };
    let lake = sample_lake();
    let server = Server::start(&lake, &["--bind", "127.0.0.1:0"]);
    let shots = lake.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = |args: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    for (name, path) in [
        ("home", "/"),
        ("search", "/search?q=orders"),
        ("dataset", "/dataset/bronze.orders"),
        ("version", "/version/gold.customer_features@v1"),
        ("lineage", "/lineage"),
    ] {
        let png = shots.join(format!("{name}.png"));
        browser(&[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1000".into(),
            format!("http://{}{path}", server.addr),
        ]);
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{name}: a screenshot of {size} bytes");
    }
    // The lineage page as the browser built it: one node per dataset, one edge per edge.
    let dom = browser(&[
        "--dump-dom".into(),
        format!("http://{}/lineage", server.addr),
    ]);
    let (datasets, edges) = expected_graph(&lake);
    assert!(edges >= 4, "the sample lake has lineage: {edges}");
    assert_eq!(dom.matches("class=\"node\"").count(), datasets, "{dom}");
    assert_eq!(dom.matches("class=\"edge\"").count(), edges, "{dom}");
    // Search results as you type: the script is served and the form works without it.
    let dom = browser(&[
        "--dump-dom".into(),
        format!("http://{}/search?q=customers", server.addr),
    ]);
    assert!(dom.contains("/dataset/bronze.customers"));
}
