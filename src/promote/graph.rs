//! The job graph: which job reads which job's output, in what order they run, and which jobs a
//! selector picks (in the style of dbt: `silver.x`, `+gold.y`, `bronze.orders+`, `zone:silver`).

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Zone};

/// Jobs as nodes: each writes `outputs[i]` and reads `inputs[i]`.
pub struct Graph {
    /// The dataset each job writes.
    pub outputs: Vec<DatasetRef>,
    /// The datasets each job reads.
    pub inputs: Vec<Vec<DatasetRef>>,
    /// `upstream[i]`: the jobs whose outputs job i reads.
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
}

impl Graph {
    /// Build the graph; refuse upward reads and cycles.
    pub fn new(outputs: Vec<DatasetRef>, inputs: Vec<Vec<DatasetRef>>) -> Result<Graph> {
        let by_output: HashMap<&DatasetRef, usize> =
            outputs.iter().enumerate().map(|(i, o)| (o, i)).collect();
        let mut upstream = vec![Vec::new(); outputs.len()];
        let mut downstream = vec![Vec::new(); outputs.len()];
        for (i, reads) in inputs.iter().enumerate() {
            for input in reads {
                if input.zone > outputs[i].zone {
                    return Err(Error::UpwardRead {
                        job: outputs[i].to_string(),
                        input: input.to_string(),
                    });
                }
                if let Some(&j) = by_output.get(input) {
                    upstream[i].push(j);
                    downstream[j].push(i);
                }
            }
        }
        let graph = Graph {
            outputs,
            inputs,
            upstream,
            downstream,
        };
        graph.order()?;
        Ok(graph)
    }

    /// Every job, each after the jobs it reads (ties by zone, then name).
    pub fn order(&self) -> Result<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; self.outputs.len()];
        let mut order = Vec::with_capacity(self.outputs.len());
        let mut roots: Vec<usize> = (0..self.outputs.len()).collect();
        roots.sort_by(|&a, &b| {
            self.outputs[a]
                .to_string()
                .cmp(&self.outputs[b].to_string())
        });
        roots.sort_by_key(|&i| self.outputs[i].zone);
        fn visit(
            g: &Graph,
            i: usize,
            marks: &mut [Mark],
            order: &mut Vec<usize>,
            path: &mut Vec<usize>,
        ) -> Result<()> {
            match marks[i] {
                Mark::Done => return Ok(()),
                Mark::Active => {
                    let start = path.iter().position(|&p| p == i).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..]
                        .iter()
                        .map(|&p| g.outputs[p].to_string())
                        .collect();
                    cycle.push(g.outputs[i].to_string());
                    // The path runs against the arrows (a job before what it reads): turn it around.
                    cycle.reverse();
                    return Err(Error::DependencyCycle {
                        cycle: cycle.join(" -> "),
                    });
                }
                Mark::New => {}
            }
            marks[i] = Mark::Active;
            path.push(i);
            let mut ups = g.upstream[i].clone();
            ups.sort_by(|&a, &b| g.outputs[a].to_string().cmp(&g.outputs[b].to_string()));
            for j in ups {
                visit(g, j, marks, order, path)?;
            }
            path.pop();
            marks[i] = Mark::Done;
            order.push(i);
            Ok(())
        }
        for i in roots {
            visit(self, i, &mut marks, &mut order, &mut Vec::new())?;
        }
        Ok(order)
    }

    fn closure(&self, start: usize, next: &[Vec<usize>]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(&next[i]);
            }
        }
        seen
    }

    /// Jobs downstream of a dataset that is not a job's output (a bronze dataset), inclusive of
    /// every job reading it, transitively.
    fn readers_of(&self, dataset: &DatasetRef) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for (i, reads) in self.inputs.iter().enumerate() {
            if reads.contains(dataset) {
                out.extend(self.closure(i, &self.downstream));
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
                    picked.extend(self.closure(i, &self.upstream));
                }
                if descendants {
                    picked.extend(self.closure(i, &self.downstream));
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
            .order()?
            .into_iter()
            .filter(|i| picked.contains(i))
            .collect())
    }

    /// The jobs whose outputs job `i` reads directly, each once.
    pub fn upstream(&self, i: usize) -> BTreeSet<usize> {
        self.upstream[i].iter().copied().collect()
    }

    /// The jobs that read job `i`'s output directly, each once.
    pub fn downstream(&self, i: usize) -> BTreeSet<usize> {
        self.downstream[i].iter().copied().collect()
    }

    /// Jobs that read job `i`'s output, directly or not.
    pub fn dependents(&self, i: usize) -> BTreeSet<usize> {
        let mut all = self.closure(i, &self.downstream);
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
            err.to_string().contains("silver.a -> silver.b -> silver.a")
                || err.to_string().contains("silver.b -> silver.a -> silver.b"),
            "{err}"
        );
        let err = Graph::new(vec![r("silver.a")], vec![vec![r("gold.x")]])
            .err()
            .unwrap();
        assert!(matches!(err, Error::UpwardRead { .. }), "{err}");
    }
}
