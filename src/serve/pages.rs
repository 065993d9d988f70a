//! The catalog's pages, rendered on the server from the SQLite catalog: the same markup for
//! `lake serve` and for `lake docs build` (only the links differ, see [`Site`]). Every value is
//! HTML-escaped by the template; no page reads data files except a dataset's bounded preview.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use futures::StreamExt;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::catalog::RunFilter;
use crate::catalog::search::SearchFilter;
use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Selector, Version, Zone};
use crate::lake::Lake;
use crate::scan::ScanOptions;
use crate::svg::{Node, lineage_svg};

/// Rows a dataset page previews, at most.
pub(crate) const PREVIEW_ROWS: usize = 50;

/// Where links point: routes of the running server, or files of a static site (all in one
/// folder, so every link is relative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    Server,
    Static,
}

impl Site {
    pub(crate) fn home(self) -> String {
        match self {
            Site::Server => "/".into(),
            Site::Static => "index.html".into(),
        }
    }
    pub(crate) fn search(self) -> String {
        match self {
            Site::Server => "/search".into(),
            Site::Static => "search.html".into(),
        }
    }
    pub(crate) fn storage(self) -> String {
        match self {
            Site::Server => "/storage".into(),
            Site::Static => "storage.html".into(),
        }
    }
    pub(crate) fn lineage_all(self) -> String {
        match self {
            Site::Server => "/lineage".into(),
            Site::Static => "lineage.html".into(),
        }
    }
    pub(crate) fn dataset(self, d: &DatasetRef) -> String {
        match self {
            Site::Server => format!("/dataset/{}", d.dataset()),
            Site::Static => format!("dataset-{}.html", d.dataset()),
        }
    }
    pub(crate) fn version(self, d: &DatasetRef, v: Version) -> String {
        match self {
            Site::Server => format!("/version/{}@v{}", d.dataset(), v.0),
            Site::Static => format!("version-{}@v{}.html", d.dataset(), v.0),
        }
    }
    pub(crate) fn lineage(self, d: &DatasetRef) -> String {
        match self {
            Site::Server => format!("/lineage/{}", d.dataset()),
            Site::Static => format!("lineage-{}.html", d.dataset()),
        }
    }
    fn asset(self, name: &str) -> String {
        match self {
            Site::Server => format!("/assets/{name}"),
            Site::Static => name.to_string(),
        }
    }
}

pub(crate) const CSS: &str = include_str!("assets/lake.css");
pub(crate) const JS: &str = include_str!("assets/lake.js");

fn layout(site: Site, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · lake" }
                link rel="stylesheet" href=(site.asset("lake.css"));
            }
            body {
                header {
                    a.brand href=(site.home()) { "lake" }
                    nav {
                        a href=(site.home()) { "Home" }
                        a href=(site.search()) { "Search" }
                        a href=(site.lineage_all()) { "Lineage" }
                        a href=(site.storage()) { "Storage" }
                    }
                    form action=(site.search()) method="get" {
                        input type="search" name="q" placeholder="Search datasets" aria-label="Search";
                    }
                }
                main { (body) }
                script src=(site.asset("lake.js")) {}
            }
        }
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn short(digest: &str) -> String {
    format!("sha256:{}", &digest[..digest.len().min(12)])
}

fn zone_rank(z: Zone) -> usize {
    match z {
        Zone::Bronze => 0,
        Zone::Silver => 1,
        Zone::Gold => 2,
    }
}

/// Home: the zones side by side, recent versions, what needs attention, storage per zone.
pub(crate) fn home(lake: &Lake, site: Site) -> Result<Markup> {
    const SHOWN: u64 = 50;
    // Counts and bytes per zone, and only the datasets shown: a catalog of 10,000 datasets
    // renders as fast as one of ten.
    let (totals, shown) = {
        let catalog = lake.catalog();
        let tx = catalog.reader();
        let totals: BTreeMap<Zone, (u64, u64)> = tx
            .zone_totals()?
            .into_iter()
            .map(|(z, n, b)| (z, (n, b)))
            .collect();
        let mut shown = BTreeMap::new();
        for zone in [Zone::Bronze, Zone::Silver, Zone::Gold] {
            shown.insert(zone, tx.first_datasets(zone, SHOWN)?);
        }
        (totals, shown)
    };
    let recent = lake.recent_versions(12)?;
    let failed = lake.runs(&RunFilter {
        jobs: Vec::new(),
        status: Some("failed".into()),
        since: None,
        limit: 10,
    })?;
    let freshness = lake.freshness()?;
    let breached: Vec<_> = freshness.iter().filter(|f| f.breached).collect();
    let storage = &totals;
    let body = html! {
        h1 { "The lake" }
        div.zones {
            @for zone in [Zone::Bronze, Zone::Silver, Zone::Gold] {
                @let (total, zone_bytes) = totals.get(&zone).copied().unwrap_or((0, 0));
                section class={"zone " (zone.as_str())} {
                    h2 { (zone.as_str()) " " span.muted { "(" (total) " datasets, "
                        (bytes(zone_bytes)) ")" } }
                    ul {
                        @for d in shown.get(&zone).into_iter().flatten() {
                            li {
                                a href=(site.dataset(&d.dataset)) { (d.dataset) }
                                span.muted { @if let Some(v) = d.latest { (v) " · " } (count(d.rows)) " rows" }
                            }
                        }
                    }
                    @if total > SHOWN {
                        p { a href={(site.search()) "?zone=" (zone.as_str())} { "all " (total) " " (zone.as_str()) " datasets" } }
                    }
                }
            }
        }
        div.grid2 {
            section {
                h2 { "Recent versions" }
                table {
                    tr { th { "version" } th { "operation" } th.num { "rows" } th { "created" } }
                    @for v in &recent {
                        tr {
                            td { a href=(site.version(&v.dataset, v.version)) { (v.reference()) } }
                            td { (v.operation) @if let Some(m) = &v.mode { " " (m) } }
                            td.num { (count(v.rows)) }
                            td.muted { (v.created_at) }
                        }
                    }
                }
            }
            section {
                h2 { "Needs attention" }
                @if failed.is_empty() && breached.is_empty() {
                    p.ok { "Nothing: no failed runs, no failing checks, nothing stale." }
                }
                @for r in &failed {
                    p { span.bad { "FAILED " } (r.job) " run " (r.id) ": " span.muted { (r.error.clone().unwrap_or_default()) } }
                }
                @for f in &breached {
                    p { span.bad { "STALE " } (f.dataset) " " span.muted {
                        @match f.age_s { Some(a) => { "is " (crate::promote::status::age(a)) " old" }, None => { "has no version" } }
                        " (limit " (crate::promote::status::age(f.limit_s)) ")" } }
                }
                h2 { "Storage" }
                table {
                    tr { th { "zone" } th.num { "datasets" } th.num { "bytes (latest versions)" } }
                    @for (zone, (n, b)) in storage {
                        tr { td { (zone.as_str()) } td.num { (n) } td.num { (bytes(*b)) } }
                    }
                }
                p { a href=(site.storage()) { "hot and archive bytes per dataset" } }
            }
        }
    };
    Ok(layout(site, "Home", body))
}

/// What the search form asks for.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub zone: Option<String>,
    pub owner: Option<String>,
    pub column: Option<String>,
    /// `key` or `key=value`.
    pub label: Option<String>,
    /// Only the results list (for the page's script).
    pub fragment: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The search page; with `fragment`, only its results.
pub(crate) fn search(lake: &Lake, site: Site, p: &SearchParams) -> Result<Markup> {
    let filter = SearchFilter {
        zone: nonempty(&p.zone),
        labels: nonempty(&p.label)
            .map(|l| match l.split_once('=') {
                Some((k, v)) => vec![(k.to_string(), Some(v.to_string()))],
                None => vec![(l, None)],
            })
            .unwrap_or_default(),
        owner: nonempty(&p.owner),
        column: nonempty(&p.column),
        ever: false,
    };
    let asked = crate::search::fts_query(&p.q).is_some()
        || filter.zone.is_some()
        || !filter.labels.is_empty()
        || filter.owner.is_some()
        || filter.column.is_some();
    let results = if asked {
        let report = lake.search(&p.q, &filter, 100)?;
        html! {
            p.muted { (report.hits.len()) " datasets" }
            ul {
                @for h in &report.hits {
                    li {
                        a href=(site.dataset(&h.dataset)) { (h.dataset) }
                        @if let Some(d) = &h.description { " " span.muted { (d) } }
                        @for (field, text) in &h.matched {
                            br; span.pill { (field) } span.muted { (text) }
                        }
                    }
                }
            }
        }
    } else {
        html! { p.muted { "Type words to search names, descriptions, owners, labels, columns, column docs and job SQL." } }
    };
    if p.fragment.is_some() {
        return Ok(results);
    }
    let body = html! {
        h1 { "Search" }
        form #search-form action=(site.search()) method="get" {
            div.filters {
                input type="search" name="q" value=(p.q) placeholder="words" autofocus aria-label="Words";
                select name="zone" aria-label="Zone" {
                    option value="" { "any zone" }
                    @for z in ["bronze", "silver", "gold"] {
                        option value=(z) selected[p.zone.as_deref() == Some(z)] { (z) }
                    }
                }
                input type="text" name="owner" value=(p.owner.clone().unwrap_or_default()) placeholder="owner" aria-label="Owner";
                input type="text" name="label" value=(p.label.clone().unwrap_or_default()) placeholder="label or key=value" aria-label="Label";
                input type="text" name="column" value=(p.column.clone().unwrap_or_default()) placeholder="column" aria-label="Column";
                button type="submit" { "Search" }
            }
        }
        div #results { (results) }
    };
    Ok(layout(site, "Search", body))
}

/// The static site's search page: every dataset, filtered in the page by its script.
pub(crate) fn static_search(lake: &Lake) -> Result<Markup> {
    let site = Site::Static;
    let datasets = lake.datasets(None)?;
    let body = html! {
        h1 { "Search" }
        form #search-form action=(site.search()) method="get" data-static="1" {
            div.filters {
                input type="search" name="q" placeholder="words" autofocus aria-label="Words";
                select name="zone" aria-label="Zone" {
                    option value="" { "any zone" }
                    @for z in ["bronze", "silver", "gold"] { option value=(z) { (z) } }
                }
            }
        }
        ul #results {
            @for d in &datasets {
                @let text = format!("{} {}", d.dataset, d.description.clone().unwrap_or_default()).to_lowercase();
                li data-text=(text) data-zone=(d.zone.as_str()) {
                    a href=(site.dataset(&d.dataset)) { (d.dataset) }
                    @if let Some(desc) = &d.description { " " span.muted { (desc) } }
                }
            }
        }
    };
    Ok(layout(site, "Search", body))
}

/// A dataset: what it is, its schema, versions, job, checks, runs, rules, and a preview.
pub(crate) async fn dataset(lake: &Lake, site: Site, d: &DatasetRef) -> Result<Markup> {
    let d = d.dataset();
    let info = lake.describe(&d)?;
    let log = lake.log(&d)?;
    let jobs = crate::promote::job::discover(lake.dir(), &lake.config().promote.jobs_dir)?;
    let job = jobs.into_iter().find(|j| j.output == d);
    let runs = lake.runs(&RunFilter {
        jobs: vec![d.to_string()],
        status: None,
        since: None,
        limit: 20,
    })?;
    let rules: Vec<_> = lake
        .rules()?
        .into_iter()
        .filter(|r| crate::archive::rule_applies(r, &d))
        .collect();
    let docs: BTreeMap<&str, &str> = info
        .meta
        .column_docs
        .iter()
        .map(|(c, doc)| (c.as_str(), doc.as_str()))
        .collect();
    let preview = preview(lake, &info).await;
    let v = &info.version;
    let body = html! {
        h1 { (d) " " span.muted { (v.version) } }
        @if let Some(desc) = &info.meta.description { p { (desc) } }
        p {
            @if let Some(o) = &info.meta.owner { span.pill { "owner: " (o) } }
            @for (k, val) in &info.meta.labels {
                span.pill { (k) @if let Some(val) = val { "=" (val) } }
            }
            a href=(site.lineage(&d)) { "lineage" }
        }
        div.grid2 {
            section {
                h2 { "Schema" }
                table {
                    tr { th { "column" } th { "type" } th { "nullable" } th { "doc" } }
                    @for c in &info.columns {
                        tr {
                            td.mono { (c.name) }
                            td.mono { (c.data_type) }
                            td { @if c.nullable { "yes" } @else { "no" } }
                            td { (docs.get(c.name.as_str()).copied().unwrap_or("")) }
                        }
                    }
                }
            }
            section {
                h2 { "Latest version" }
                table {
                    tr { th { "version" } td { a href=(site.version(&d, v.version)) { (v.reference()) } } }
                    tr { th { "state" } td { (v.state.as_str()) } }
                    tr { th { "rows" } td { (count(v.rows)) } }
                    tr { th { "bytes" } td { (bytes(v.bytes)) " in " (v.file_count) " files" } }
                    tr { th { "digest" } td.mono { (short(&v.digest)) } }
                    tr { th { "created" } td { (v.created_at) " by " (v.created_by) } }
                    @if !info.tags.is_empty() { tr { th { "tags" } td { (info.tags.join(", ")) } } }
                    @if !info.holds.is_empty() { tr { th { "pinned by" } td { (info.holds.join(", ")) } } }
                }
                h2 { "Lifecycle rules" }
                @if rules.is_empty() { p.muted { "No rule applies: versions stay hot." } }
                ul { @for r in &rules { li { (crate::archive::describe_rule(r)) } } }
            }
        }
        h2 { "Versions" }
        table {
            tr { th { "version" } th { "state" } th { "operation" } th.num { "rows" } th.num { "bytes" } th { "digest" } th { "drift" } th { "tags" } th { "created" } }
            @for e in &log {
                tr {
                    td { a href=(site.version(&d, e.version.version)) { (e.version.version) } }
                    td { (e.version.state.as_str()) }
                    td { (e.version.operation) @if let Some(m) = &e.version.mode { " " (m) } }
                    td.num { (count(e.version.rows)) }
                    td.num { (bytes(e.version.bytes)) }
                    td.mono { (short(&e.version.digest)) }
                    td { @for c in &e.drift { span.pill { (c.change) " " (c.column) } } }
                    td { (e.tags.join(", ")) }
                    td.muted { (e.version.created_at) }
                }
            }
        }
        @if let Some(job) = &job {
            h2 { "Job " span.mono { (job.path.display()) } }
            pre.sql { (PreEscaped(highlight_sql(&job.text))) }
            h2 { "Checks" }
            @if job.checks.is_empty() { p.muted { "The job declares no checks." } }
            table {
                @if !job.checks.is_empty() { tr { th { "check" } th { "severity" } th { "latest result" } } }
                @for c in &job.checks {
                    @let name = c.check.name();
                    @let result = info.checks.iter().find(|r| r.name == name);
                    tr {
                        td.mono { (name) }
                        td { @if c.warn { "warn" } @else { "error" } }
                        td { @match result {
                            Some(r) if r.passed => { span.ok { "passed" } },
                            Some(r) => { span.bad { (r.failing) " failing" } },
                            None => { span.muted { "not run on this version" } },
                        } }
                    }
                }
            }
        }
        h2 { "Runs" }
        @if runs.is_empty() { p.muted { "No runs." } }
        @else {
            table {
                tr { th { "run" } th { "status" } th { "trigger" } th { "inputs" } th { "output" } th { "started" } th.num { "took" } th { "error" } }
                @for r in &runs {
                    tr {
                        td { (r.id) }
                        td { @if r.status == "failed" { span.bad { (r.status) } } @else { (r.status) } }
                        td { (r.trigger) }
                        td.mono { (r.inputs.join(", ")) }
                        td.mono { (r.output.clone().unwrap_or_default()) }
                        td.muted { (r.started_at) }
                        td.num { (r.duration_ms) " ms" }
                        td { (r.error.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        h2 { "Preview " span.muted { "(first " (PREVIEW_ROWS) " rows of " (v.reference()) ")" } }
        (preview)
    };
    Ok(layout(site, &d.to_string(), body))
}

/// The first rows of a version, as a table; a version that cannot be read says why.
async fn preview(lake: &Lake, info: &crate::read::VersionInfo) -> Markup {
    let r = info.version.reference();
    let read = async {
        let scan = lake
            .scan(
                &r,
                ScanOptions {
                    batch_size: PREVIEW_ROWS,
                    ..ScanOptions::default()
                },
            )
            .await?;
        let mut stream = scan.into_stream();
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut rows = 0;
        while rows < PREVIEW_ROWS {
            match stream.next().await {
                Some(b) => {
                    let b = b?;
                    rows += b.num_rows();
                    batches.push(b);
                }
                None => break,
            }
        }
        Ok::<_, Error>(batches)
    };
    match read.await {
        Err(e) => html! { p.muted { "No preview: " (e.to_string()) } },
        Ok(batches) => {
            let options = arrow::util::display::FormatOptions::default().with_null("null");
            let mut rows: Vec<Vec<String>> = Vec::new();
            for b in &batches {
                let formatters: Vec<_> = b
                    .columns()
                    .iter()
                    .map(|c| {
                        arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &options).ok()
                    })
                    .collect();
                for row in 0..b.num_rows() {
                    if rows.len() == PREVIEW_ROWS {
                        break;
                    }
                    rows.push(
                        formatters
                            .iter()
                            .map(|f| f.as_ref().map_or("?".into(), |f| f.value(row).to_string()))
                            .collect(),
                    );
                }
            }
            html! {
                table {
                    tr { @for c in &info.columns { th.mono { (c.name) } } }
                    @for row in &rows {
                        tr { @for cell in row { td { (cell) } } }
                    }
                }
            }
        }
    }
}

/// A version: manifest facts, files, sources, inputs, column lineage, and the change from the
/// previous version.
pub(crate) async fn version(lake: &Lake, site: Site, r: &DatasetRef) -> Result<Markup> {
    let info = lake.describe(r)?;
    let v = &info.version;
    let d = v.dataset.dataset();
    let lineage = lake.lineage(&v.reference(), crate::lineage::Direction::Upstream, Some(1))?;
    let inputs: Vec<_> = lineage
        .edges
        .iter()
        .filter(|(_, out)| out == &v.reference())
        .map(|(i, _)| i.clone())
        .collect();
    // The comparison reads the Parquet footers (statistics, not rows) of both versions' files;
    // past this many files the page leaves it to `lake diff`.
    const DIFF_FILES: u64 = 256;
    let previous = if v.version.0 > 1 && v.file_count <= DIFF_FILES {
        let mut p = d.clone();
        p.selector = Some(Selector::Version(Version(v.version.0 - 1)));
        match lake.diff(&p, &v.reference()).await {
            Ok(diff) => Some((p, Ok(diff))),
            Err(e) => Some((p, Err(e))),
        }
    } else {
        None
    };
    let body = html! {
        h1 { (v.reference()) }
        p {
            a href=(site.dataset(&d)) { "dataset" } " · "
            a href=(site.lineage(&d)) { "lineage" }
        }
        table {
            tr { th { "digest" } td.mono { "sha256:" (v.digest) } }
            tr { th { "manifest" } td.mono { (v.manifest_key) } }
            tr { th { "state" } td { (v.state.as_str()) } }
            tr { th { "operation" } td { (v.operation) @if let Some(m) = &v.mode { " (" (m) ")" } } }
            tr { th { "created" } td { (v.created_at) " by " (v.created_by) } }
            tr { th { "rows" } td { (count(v.rows)) } }
            tr { th { "bytes" } td { (bytes(v.bytes)) } }
            @if !info.tags.is_empty() { tr { th { "tags" } td { (info.tags.join(", ")) } } }
        }
        h2 { "Inputs" }
        @if inputs.is_empty() { p.muted { "None: this version was ingested." } }
        ul {
            @for i in &inputs {
                li { @if let Some(Selector::Version(n)) = &i.selector {
                    a href=(site.version(i, *n)) { (i) }
                } @else { (i) } }
            }
        }
        @if !lineage.columns.is_empty() {
            h2 { "Column lineage" }
            table {
                tr { th { "column" } th { "from" } }
                @for c in &lineage.columns {
                    tr { td.mono { (c.output_column) } td.mono { (c.input) "." (c.input_column) } }
                }
            }
        }
        @if !info.sources.is_empty() {
            h2 { "Sources" }
            table {
                tr { th { "uri" } th { "format" } th.num { "rows" } th.num { "bytes" } th { "sha256" } th { "added here" } }
                @for s in &info.sources {
                    tr {
                        td.mono { (s.uri) } td { (s.format) } td.num { (count(s.rows)) }
                        td.num { (bytes(s.size)) } td.mono { (short(&s.sha256)) }
                        td { @if s.added { "yes" } }
                    }
                }
            }
        }
        h2 { "Files" }
        table {
            tr { th { "path" } th.num { "rows" } th.num { "bytes" } th.num { "row groups" } th { "sha256" } }
            @for f in &info.files {
                tr {
                    td.mono { (f.path) } td.num { (count(f.rows)) } td.num { (bytes(f.size)) }
                    td.num { (f.row_groups.len()) } td.mono { (short(&f.sha256)) }
                }
            }
        }
        @if let Some((p, diff)) = &previous {
            h2 { "Since " @if let Some(Selector::Version(n)) = &p.selector { a href=(site.version(&d, *n)) { (p) } } }
            @match diff {
                Err(e) => { p.muted { "Cannot compare: " (e.to_string()) } },
                Ok(diff) => {
                    table {
                        tr { th { "rows" } td { (format!("{:+}", diff.rows_delta)) } }
                        tr { th { "bytes" } td { (format!("{:+}", diff.bytes_delta)) } }
                        tr { th { "files added" } td { (diff.files_added.len()) } }
                        tr { th { "files removed" } td { (diff.files_removed.len()) } }
                    }
                    @if !diff.schema.is_empty() {
                        h2 { "Schema changes" }
                        ul { @for c in &diff.schema { li.mono { (c.to_string()) } } }
                    }
                    @if !diff.right.stats.is_empty() {
                        h2 { "Column statistics" }
                        table {
                            tr { th { "column" } th.num { "nulls before" } th.num { "nulls now" } th { "min now" } th { "max now" } }
                            @for s in &diff.right.stats {
                                @let before = diff.left.stats.iter().find(|l| l.column == s.column);
                                tr {
                                    td.mono { (s.column) }
                                    td.num { (before.and_then(|b| b.null_count).map(|n| n.to_string()).unwrap_or_default()) }
                                    td.num { (s.null_count.map(|n| n.to_string()).unwrap_or_default()) }
                                    td.mono { (s.min.clone().unwrap_or_default()) }
                                    td.mono { (s.max.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                },
            }
        } @else if v.version.0 > 1 {
            p.muted { "Not compared with the previous version here (" (v.file_count) " files): `lake diff` compares them." }
        }
    };
    Ok(layout(site, &v.reference().to_string(), body))
}

/// The lineage SVG: every dataset, or those within `depth` edges of `around`.
pub(crate) fn lineage_picture(
    lake: &Lake,
    site: Site,
    around: Option<&DatasetRef>,
    depth: usize,
) -> Result<String> {
    let mut graph = lake.dataset_graph()?;
    if let Some(d) = around {
        if !graph.datasets.iter().any(|s| s.dataset == d.dataset()) {
            return Err(Error::DatasetNotFound {
                dataset: d.dataset_name(),
                suggestions: Vec::new(),
            });
        }
        graph = graph.around(d, depth);
    }
    let nodes: Vec<Node> = graph
        .datasets
        .iter()
        .map(|s| Node {
            id: s.dataset.to_string(),
            rank: zone_rank(s.zone),
            href: Some(site.dataset(&s.dataset)),
            note: Some(format!(
                "{} · {} rows",
                s.latest.map(|v| v.to_string()).unwrap_or_default(),
                count(s.rows)
            )),
            selected: around.is_some_and(|a| a.dataset() == s.dataset),
        })
        .collect();
    let edges: Vec<(String, String)> = graph
        .edges
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Ok(lineage_svg(&nodes, &edges))
}

/// The lineage page: the picture, a depth control, and (on demand) the column edges.
pub(crate) fn lineage(
    lake: &Lake,
    site: Site,
    around: Option<&DatasetRef>,
    depth: usize,
    columns: bool,
) -> Result<Markup> {
    let svg = lineage_picture(lake, site, around, depth)?;
    let column_edges = match (around, columns) {
        (Some(d), true) => {
            lake.lineage(&d.dataset(), crate::lineage::Direction::Upstream, Some(1))?
                .columns
        }
        _ => Vec::new(),
    };
    let title = around.map_or("Lineage".to_string(), |d| format!("Lineage of {d}"));
    let body = html! {
        h1 { (title) }
        @if let (Some(d), Site::Server) = (around, site) {
            form.filters method="get" action=(site.lineage(d)) {
                label { "depth " input type="number" name="depth" min="1" max="20" value=(depth); }
                label { input type="checkbox" name="columns" value="1" checked[columns]; " column edges" }
                button type="submit" { "Show" }
                a href=(site.lineage_all()) { "whole lake" }
            }
        }
        div.lineage-box { (PreEscaped(svg)) }
        @if !column_edges.is_empty() {
            h2 { "Column edges of the latest version" }
            table {
                tr { th { "column" } th { "from" } }
                @for c in &column_edges {
                    tr { td.mono { (c.output_column) } td.mono { (c.input) "." (c.input_column) } }
                }
            }
        }
    };
    Ok(layout(site, &title, body))
}

/// Storage: bytes per zone and dataset, hot beside archive.
pub(crate) fn storage(lake: &Lake, site: Site) -> Result<Markup> {
    let du = lake.du(&[])?;
    let widest = du
        .datasets
        .iter()
        .map(|d| d.hot_bytes + d.archive_bytes)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = |b: u64| (b as f64 / widest as f64 * 420.0).round() as u64;
    let body = html! {
        h1 { "Storage" }
        p { "Hot " (bytes(du.hot_bytes)) " · archive " (bytes(du.archive_bytes)) " "
            span.bar.hot style="width:12px" {} " hot " span.bar.archive style="width:12px" {} " archive" }
        table {
            tr { th { "zone" } th.num { "hot" } th.num { "archive" } }
            @for (zone, (hot, cold)) in &du.zones {
                tr { td { (zone) } td.num { (bytes(*hot)) } td.num { (bytes(*cold)) } }
            }
        }
        h2 { "Datasets" }
        table {
            tr { th { "dataset" } th { "" } th.num { "hot" } th.num { "archive" } th.num { "versions" } }
            @for d in &du.datasets {
                tr {
                    td { a href=(site.dataset(&d.dataset)) { (d.dataset) } }
                    td {
                        span.bar.hot style={"width:" (width(d.hot_bytes)) "px"} title={"hot " (bytes(d.hot_bytes))} {}
                        span.bar.archive style={"width:" (width(d.archive_bytes)) "px"} title={"archive " (bytes(d.archive_bytes))} {}
                    }
                    td.num { (bytes(d.hot_bytes)) }
                    td.num { (bytes(d.archive_bytes)) }
                    td.num { (d.versions.len()) }
                }
            }
        }
    };
    Ok(layout(site, "Storage", body))
}

/// A page for an error: what went wrong, in the same frame.
pub(crate) fn error(site: Site, status: u16, message: &str) -> Markup {
    layout(
        site,
        &format!("{status}"),
        html! { h1 { (status) } p { (message) } p { a href=(site.home()) { "Home" } } },
    )
}

/// SQL with keywords, strings, numbers and comments marked, every character escaped.
pub(crate) fn highlight_sql(sql: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "select",
        "from",
        "where",
        "group",
        "by",
        "order",
        "having",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "on",
        "as",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "case",
        "when",
        "then",
        "else",
        "end",
        "with",
        "union",
        "all",
        "distinct",
        "limit",
        "over",
        "partition",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "cast",
        "between",
        "like",
        "exists",
        "asc",
        "desc",
        "true",
        "false",
        "qualify",
        "row_number",
        "coalesce",
    ];
    let esc = crate::svg::escape;
    let mut out = String::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p);
            let text: String = chars[i..end].iter().collect();
            out.push_str(&format!("<span class=\"com\">{}</span>", esc(&text)));
            i = end;
        } else if c == '\'' {
            let mut end = i + 1;
            while end < chars.len() && chars[end] != '\'' {
                end += 1;
            }
            let end = (end + 1).min(chars.len());
            let text: String = chars[i..end].iter().collect();
            out.push_str(&format!("<span class=\"str\">{}</span>", esc(&text)));
            i = end;
        } else if c.is_ascii_digit() {
            let mut end = i;
            while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == '.') {
                end += 1;
            }
            let text: String = chars[i..end].iter().collect();
            out.push_str(&format!("<span class=\"num\">{}</span>", esc(&text)));
            i = end;
        } else if c.is_alphabetic() || c == '_' {
            let mut end = i;
            while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let word: String = chars[i..end].iter().collect();
            if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                out.push_str(&format!("<span class=\"kw\">{}</span>", esc(&word)));
            } else {
                out.push_str(&esc(&word));
            }
            i = end;
        } else {
            out.push_str(&esc(&c.to_string()));
            i += 1;
        }
    }
    out
}
