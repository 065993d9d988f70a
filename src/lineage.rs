//! `lake lineage`: the graph of versions computed from versions, from the catalog alone.
//!
//! "Which gold versions were built from bronze.orders@v7?" is `lineage bronze.orders@v7
//! --downstream`; "where did gold.features@v3 come from?" is `--upstream`.

use std::collections::{BTreeSet, VecDeque};

use serde::Serialize;

use crate::catalog::{ColumnEdge, VersionRow};
use crate::error::Result;
use crate::ident::DatasetRef;
use crate::lake::Lake;

/// Which way to follow lineage from a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The versions it was computed from.
    Upstream,
    /// The versions computed from it.
    Downstream,
    /// Both.
    Both,
}

/// One version in a lineage graph.
#[derive(Debug, Clone, Serialize)]
pub struct LineageNode {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// Its lifecycle state.
    pub state: String,
    /// The operation that made it (`ingest`, `promote`…).
    pub operation: String,
    /// When it was created.
    pub created_at: String,
    /// Its digest.
    pub digest: String,
    /// Hops from the root; negative upstream, positive downstream.
    pub depth: i64,
}

/// The versions a version was computed from, or that were computed from it.
#[derive(Debug, Clone, Serialize)]
pub struct Lineage {
    /// The version asked about.
    pub root: DatasetRef,
    /// Every version reached, the root included.
    pub nodes: Vec<LineageNode>,
    /// `(input, output)`: the output version was computed from the input version.
    pub edges: Vec<(DatasetRef, DatasetRef)>,
    /// For the root version: which input columns each output column came from.
    pub columns: Vec<ColumnEdge>,
}

impl Lake {
    /// The lineage around the version `r` names, `depth` hops each way (`None`: all).
    pub fn lineage(
        &self,
        r: &DatasetRef,
        direction: Direction,
        depth: Option<usize>,
    ) -> Result<Lineage> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let root = tx.resolve(r)?;
        let mut nodes = vec![node(&root, 0)];
        let mut edges = BTreeSet::new();
        let mut seen = BTreeSet::from([root.id]);
        let limit = depth.unwrap_or(usize::MAX);
        for (up, sign) in [(true, -1i64), (false, 1i64)] {
            let wanted = match direction {
                Direction::Both => true,
                Direction::Upstream => up,
                Direction::Downstream => !up,
            };
            if !wanted {
                continue;
            }
            let mut queue = VecDeque::from([(root.clone(), 0usize)]);
            while let Some((v, d)) = queue.pop_front() {
                if d >= limit {
                    continue;
                }
                let next = if up {
                    tx.upstream(v.id)?
                } else {
                    tx.downstream(v.id)?
                };
                for n in next {
                    let edge = if up {
                        (n.reference(), v.reference())
                    } else {
                        (v.reference(), n.reference())
                    };
                    edges.insert(edge);
                    if seen.insert(n.id) {
                        nodes.push(node(&n, sign * (d as i64 + 1)));
                        queue.push_back((n, d + 1));
                    }
                }
            }
        }
        let columns = tx.column_lineage(root.id)?;
        let edges = edges.into_iter().collect();
        Ok(Lineage {
            root: root.reference(),
            nodes,
            edges,
            columns,
        })
    }
}

fn node(v: &VersionRow, depth: i64) -> LineageNode {
    LineageNode {
        reference: v.reference(),
        state: v.state.as_str().to_string(),
        operation: v.operation.clone(),
        created_at: v.created_at.clone(),
        digest: v.digest.clone(),
        depth,
    }
}

/// The lake's datasets and which feed which now (from each dataset's latest version).
#[derive(Debug, Clone, Serialize)]
pub struct DatasetGraph {
    /// Every dataset.
    pub datasets: Vec<crate::catalog::DatasetSummary>,
    /// `(input, output)`
    pub edges: Vec<(DatasetRef, DatasetRef)>,
}

impl Lake {
    /// Every dataset, and every input → output edge of the latest versions.
    pub fn dataset_graph(&self) -> Result<DatasetGraph> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        Ok(DatasetGraph {
            datasets: tx.list_datasets(None)?,
            edges: tx.dataset_edges()?,
        })
    }

    /// The newest versions across the lake, newest first.
    pub fn recent_versions(&self, limit: u64) -> Result<Vec<VersionRow>> {
        self.catalog().reader().recent_versions(limit)
    }
}

impl DatasetGraph {
    /// Only the datasets within `depth` edges of `around` (either way), and their edges.
    pub fn around(&self, around: &DatasetRef, depth: usize) -> DatasetGraph {
        let mut keep: BTreeSet<DatasetRef> = BTreeSet::from([around.dataset()]);
        let mut frontier = keep.clone();
        for _ in 0..depth {
            let mut next = BTreeSet::new();
            for (a, b) in &self.edges {
                if frontier.contains(a) && !keep.contains(b) {
                    next.insert(b.clone());
                }
                if frontier.contains(b) && !keep.contains(a) {
                    next.insert(a.clone());
                }
            }
            if next.is_empty() {
                break;
            }
            keep.extend(next.iter().cloned());
            frontier = next;
        }
        DatasetGraph {
            datasets: self
                .datasets
                .iter()
                .filter(|d| keep.contains(&d.dataset))
                .cloned()
                .collect(),
            edges: self
                .edges
                .iter()
                .filter(|(a, b)| keep.contains(a) && keep.contains(b))
                .cloned()
                .collect(),
        }
    }
}
