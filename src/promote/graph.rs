//! The job graph: which job reads which job's output, in what order they run, and which jobs a
//! selector picks (in the style of dbt: `silver.x`, `+gold.y`, `bronze.orders+`, `zone:silver`).

use std::collections::{BTreeSet, HashMap};

use petgraph::Direction;
use petgraph::algo::{astar, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, DfsPostOrder, Reversed, VisitMap, Walker};

use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Zone};

/// Jobs as nodes: each writes `outputs[i]` and reads `inputs[i]`.
pub struct Graph {
    /// The dataset each job writes.
    pub outputs: Vec<DatasetRef>,
    /// The datasets each job reads.
    pub inputs: Vec<Vec<DatasetRef>>,
    /// Node i is job i; an edge j -> i for each job j whose output job i reads, so edges run
    /// the way data flows.
    edges: DiGraph<(), ()>,
}

impl Graph {
    /// Build the graph; refuse upward reads and cycles.
    pub fn new(outputs: Vec<DatasetRef>, inputs: Vec<Vec<DatasetRef>>) -> Result<Graph> {
        let by_output: HashMap<&DatasetRef, usize> =
            outputs.iter().enumerate().map(|(i, o)| (o, i)).collect();
        let mut edges = DiGraph::with_capacity(outputs.len(), outputs.len());
        for _ in &outputs {
            edges.add_node(());
        }
        for (i, reads) in inputs.iter().enumerate() {
            let mut upstream = BTreeSet::new();
            for input in reads {
                if input.zone > outputs[i].zone {
                    return Err(Error::UpwardRead {
                        job: outputs[i].to_string(),
                        input: input.to_string(),
                    });
                }
                if let Some(&j) = by_output.get(input) {
                    upstream.insert((input.to_string(), j));
                }
            }
            // By name: a walk up from job i meets what it reads in this order.
            for (_, j) in upstream {
                edges.add_edge(NodeIndex::new(j), NodeIndex::new(i), ());
            }
        }
        let graph = Graph {
            outputs,
            inputs,
            edges,
        };
        if let Err(cycle) = toposort(&graph.edges, None) {
            return Err(Error::DependencyCycle {
                cycle: graph.cycle_through(cycle.node_id()),
            });
        }
        Ok(graph)
    }

    /// The cycle through job `n`, in the direction data flows, from its first job by name:
    /// `a -> b -> a`.
    fn cycle_through(&self, n: NodeIndex) -> String {
        let back = self.edges.neighbors(n).find_map(|next| {
            astar(&self.edges, next, |t| t == n, |_| 1, |_| 0).map(|(_, path)| path)
        });
        // A cycle through n has a way back to n; without one, n alone names it.
        let mut jobs: Vec<String> = std::iter::once(n)
            .chain(back.unwrap_or_else(|| vec![n]))
            .map(|i| self.outputs[i.index()].to_string())
            .collect();
        jobs.pop();
        let first = (0..jobs.len()).min_by_key(|&i| &jobs[i]).unwrap_or(0);
        jobs.rotate_left(first);
        jobs.push(jobs[0].clone());
        jobs.join(" -> ")
    }

    /// Every job, each after the jobs it reads (ties by zone, then name).
    pub fn order(&self) -> Vec<usize> {
        let mut roots: Vec<usize> = (0..self.outputs.len()).collect();
        roots.sort_by_key(|&i| (self.outputs[i].zone, self.outputs[i].to_string()));
        let upstream = Reversed(&self.edges);
        let mut walk = DfsPostOrder::empty(upstream);
        let mut order = Vec::with_capacity(self.outputs.len());
        for root in roots {
            let root = NodeIndex::new(root);
            if !walk.finished.is_visited(&root) {
                walk.move_to(root);
                while let Some(job) = walk.next(upstream) {
                    order.push(job.index());
                }
            }
        }
        order
    }

    /// Job `start` and every job it reaches going `direction` (Outgoing: the jobs that read it).
    fn closure(&self, start: usize, direction: Direction) -> BTreeSet<usize> {
        let start = NodeIndex::new(start);
        let reached: Vec<NodeIndex> = match direction {
            Direction::Outgoing => Dfs::new(&self.edges, start).iter(&self.edges).collect(),
            Direction::Incoming => {
                let up = Reversed(&self.edges);
                Dfs::new(up, start).iter(up).collect()
            }
        };
        reached.into_iter().map(|n| n.index()).collect()
    }

    /// Jobs downstream of a dataset that is not a job's output (a bronze dataset), inclusive of
    /// every job reading it, transitively.
    fn readers_of(&self, dataset: &DatasetRef) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for (i, reads) in self.inputs.iter().enumerate() {
            if reads.contains(dataset) {
                out.extend(self.closure(i, Direction::Outgoing));
            }
        }
        out
    }

    /// The jobs one selector picks.
    pub fn select(&self, selector: &str) -> Result<BTreeSet<usize>> {
        let s = selector.trim();
        let none = || Error::NoJobMatches {
            selector: selector.to_string(),
        };
        if let Some(zone) = s.strip_prefix("zone:") {
            let zone: Zone = zone.parse()?;
            let picked: BTreeSet<usize> = (0..self.outputs.len())
                .filter(|&i| self.outputs[i].zone == zone)
                .collect();
            return if picked.is_empty() {
                Err(none())
            } else {
                Ok(picked)
            };
        }
        let ancestors = s.starts_with('+');
        let descendants = s.ends_with('+') && s.len() > 1;
        let name = s.trim_start_matches('+').trim_end_matches('+');
        let dataset = DatasetRef::parse_dataset(name)?;
        let mut picked = BTreeSet::new();
        match self.outputs.iter().position(|o| o == &dataset) {
            Some(i) => {
                picked.insert(i);
                if ancestors {
                    picked.extend(self.closure(i, Direction::Incoming));
                }
                if descendants {
                    picked.extend(self.closure(i, Direction::Outgoing));
                }
            }
            // A dataset no job writes (bronze): `x+` means the jobs that read it, and theirs.
            None if descendants => picked = self.readers_of(&dataset),
            None => {}
        }
        if picked.is_empty() {
            Err(none())
        } else {
            Ok(picked)
        }
    }

    /// The jobs selected (all when `select` is empty) less those excluded, in run order.
    pub fn plan(&self, select: &[String], exclude: &[String]) -> Result<Vec<usize>> {
        let mut picked: BTreeSet<usize> = if select.is_empty() {
            (0..self.outputs.len()).collect()
        } else {
            let mut all = BTreeSet::new();
            for s in select {
                all.extend(self.select(s)?);
            }
            all
        };
        for s in exclude {
            for i in self.select(s)? {
                picked.remove(&i);
            }
        }
        Ok(self
            .order()
            .into_iter()
            .filter(|i| picked.contains(i))
            .collect())
    }

    /// The jobs whose outputs job `i` reads directly, each once.
    pub fn upstream(&self, i: usize) -> BTreeSet<usize> {
        self.neighbors(i, Direction::Incoming)
    }

    /// The jobs that read job `i`'s output directly, each once.
    pub fn downstream(&self, i: usize) -> BTreeSet<usize> {
        self.neighbors(i, Direction::Outgoing)
    }

    fn neighbors(&self, i: usize, direction: Direction) -> BTreeSet<usize> {
        self.edges
            .neighbors_directed(NodeIndex::new(i), direction)
            .map(|n| n.index())
            .collect()
    }

    /// Jobs that read job `i`'s output, directly or not.
    pub fn dependents(&self, i: usize) -> BTreeSet<usize> {
        let mut all = self.closure(i, Direction::Outgoing);
        all.remove(&i);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> DatasetRef {
        s.parse().unwrap()
    }

    fn graph() -> Graph {
        // bronze.orders -> silver.orders_clean -> gold.revenue
        // bronze.customers -> silver.customers -> gold.revenue
        Graph::new(
            vec![
                r("gold.revenue"),
                r("silver.orders_clean"),
                r("silver.customers"),
            ],
            vec![
                vec![r("silver.orders_clean"), r("silver.customers")],
                vec![r("bronze.orders")],
                vec![r("bronze.customers")],
            ],
        )
        .unwrap()
    }

    fn names(g: &Graph, idx: Vec<usize>) -> Vec<String> {
        idx.into_iter().map(|i| g.outputs[i].to_string()).collect()
    }

    #[test]
    fn runs_in_dependency_order() {
        let g = graph();
        assert_eq!(
            names(&g, g.plan(&[], &[]).unwrap()),
            ["silver.customers", "silver.orders_clean", "gold.revenue"]
        );
    }

    #[test]
    fn a_job_runs_after_what_it_reads_and_those_by_name() {
        // silver.a reads two jobs named after it: they run first, in name order.
        let g = Graph::new(
            vec![r("silver.a"), r("silver.z"), r("silver.y")],
            vec![vec![r("silver.z"), r("silver.y")], vec![], vec![]],
        )
        .unwrap();
        assert_eq!(names(&g, g.order()), ["silver.y", "silver.z", "silver.a"]);
    }

    #[test]
    fn selectors_pick_ancestors_descendants_and_zones() {
        let g = graph();
        let plan = |s: &[&str], e: &[&str]| {
            let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            let e: Vec<String> = e.iter().map(|x| x.to_string()).collect();
            names(&g, g.plan(&s, &e).unwrap())
        };
        assert_eq!(plan(&["+gold.revenue"], &[]).len(), 3);
        assert_eq!(
            plan(&["bronze.orders+"], &[]),
            ["silver.orders_clean", "gold.revenue"]
        );
        assert_eq!(plan(&["silver.customers"], &[]), ["silver.customers"]);
        assert_eq!(
            plan(&["zone:silver"], &[]),
            ["silver.customers", "silver.orders_clean"]
        );
        assert_eq!(plan(&["+gold.revenue"], &["zone:silver"]), ["gold.revenue"]);
        assert!(g.plan(&["silver.nope".to_string()], &[]).is_err());
    }

    #[test]
    fn refuses_cycles_and_upward_reads() {
        let err = Graph::new(
            vec![r("silver.a"), r("silver.b")],
            vec![vec![r("silver.b")], vec![r("silver.a")]],
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::DependencyCycle { .. }), "{err}");
        assert!(
            err.to_string().contains("silver.a -> silver.b -> silver.a"),
            "{err}"
        );
        // A longer cycle beside jobs outside it: only the cycle, in the direction data flows.
        let err = Graph::new(
            vec![r("silver.c"), r("silver.a"), r("silver.b"), r("gold.x")],
            vec![
                vec![r("silver.b")],
                vec![r("silver.c"), r("bronze.o")],
                vec![r("silver.a")],
                vec![r("silver.a")],
            ],
        )
        .err()
        .unwrap();
        assert!(
            err.to_string()
                .contains("silver.a -> silver.b -> silver.c -> silver.a"),
            "{err}"
        );
        let err = Graph::new(vec![r("silver.a")], vec![vec![r("gold.x")]])
            .err()
            .unwrap();
        assert!(matches!(err, Error::UpwardRead { .. }), "{err}");
    }
}
