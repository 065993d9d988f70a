//! `lake lineage REF [--upstream | --downstream] [--depth N] [--format tree|dot|mermaid|svg|json]`

use std::collections::BTreeMap;

use lake::lineage::{Direction, Lineage};
use lake::{DatasetRef, Lake};

use super::Failure;
use super::printer::Printer;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A version: gold.features@v3, bronze.orders@v7, silver.orders (the latest).
    #[arg(value_name = "REF")]
    reference: String,
    /// Only what the version was computed from.
    #[arg(long, conflicts_with = "downstream")]
    upstream: bool,
    /// Only what was computed from the version.
    #[arg(long)]
    downstream: bool,
    /// How many hops to follow.
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
    #[arg(long, value_enum, default_value = "tree")]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Tree,
    Dot,
    Mermaid,
    /// A picture, left to right by zone (the same drawing as `lake serve`).
    Svg,
    Json,
}

pub fn run(lake: &Lake, args: &Args, p: Printer) -> Result<(), Failure> {
    let r: DatasetRef = args.reference.parse()?;
    let direction = match (args.upstream, args.downstream) {
        (true, _) => Direction::Upstream,
        (_, true) => Direction::Downstream,
        _ => Direction::Both,
    };
    let lineage = lake.lineage(&r, direction, args.depth)?;
    let format = if p.json { Format::Json } else { args.format };
    match format {
        Format::Json => p.json(&lineage),
        Format::Tree => p.out(tree(&lineage, direction)),
        Format::Dot => p.out(dot(&lineage)),
        Format::Mermaid => p.out(mermaid(&lineage)),
        Format::Svg => p.out(svg(&lineage)),
    }
    Ok(())
}

fn svg(l: &Lineage) -> String {
    let nodes: Vec<lake::svg::Node> = l
        .nodes
        .iter()
        .map(|n| lake::svg::Node {
            id: n.reference.to_string(),
            rank: match n.reference.zone {
                lake::Zone::Bronze => 0,
                lake::Zone::Silver => 1,
                lake::Zone::Gold => 2,
            },
            href: None,
            note: Some(format!("{} · {}", n.operation, n.state)),
            selected: n.depth == 0,
        })
        .collect();
    let edges: Vec<(String, String)> = l
        .edges
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    lake::svg::lineage_svg(&nodes, &edges)
}

fn tree(l: &Lineage, direction: Direction) -> String {
    let mut inputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut outputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, o) in &l.edges {
        inputs.entry(o.to_string()).or_default().push(i.to_string());
        outputs
            .entry(i.to_string())
            .or_default()
            .push(o.to_string());
    }
    let root = l.root.to_string();
    let mut out = String::new();
    if direction != Direction::Downstream {
        out.push_str(&root);
        out.push('\n');
        branch(&root, &inputs, "", &mut out, &mut vec![root.clone()]);
    }
    if direction != Direction::Upstream {
        if !out.is_empty() {
            out.push_str("\nused by:\n");
        }
        out.push_str(&root);
        out.push('\n');
        branch(&root, &outputs, "", &mut out, &mut vec![root.clone()]);
    }
    if !l.columns.is_empty() {
        out.push_str("\ncolumns:\n");
        let mut by_out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &l.columns {
            by_out
                .entry(c.output_column.as_str())
                .or_default()
                .push(format!("{}.{}", c.input, c.input_column));
        }
        for (col, from) in by_out {
            out.push_str(&format!("  {col} <- {}\n", from.join(", ")));
        }
    }
    out.trim_end().to_string()
}

fn branch(
    node: &str,
    next: &BTreeMap<String, Vec<String>>,
    prefix: &str,
    out: &mut String,
    path: &mut Vec<String>,
) {
    let Some(children) = next.get(node) else {
        return;
    };
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        out.push_str(&format!(
            "{prefix}{}{child}\n",
            if last { "└── " } else { "├── " }
        ));
        if !path.contains(child) {
            path.push(child.clone());
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            branch(child, next, &deeper, out, path);
            path.pop();
        }
    }
}

fn dot(l: &Lineage) -> String {
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
    for n in &l.nodes {
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\\n{}\"];\n",
            n.reference, n.reference, n.operation
        ));
    }
    for (i, o) in &l.edges {
        out.push_str(&format!("  \"{i}\" -> \"{o}\";\n"));
    }
    out.push('}');
    out
}

fn mermaid(l: &Lineage) -> String {
    let ids: BTreeMap<String, usize> = l
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.reference.to_string(), i))
        .collect();
    let mut out = String::from("graph LR\n");
    for (name, id) in &ids {
        out.push_str(&format!("  n{id}[\"{name}\"]\n"));
    }
    for (i, o) in &l.edges {
        if let (Some(a), Some(b)) = (ids.get(&i.to_string()), ids.get(&o.to_string())) {
            out.push_str(&format!("  n{a} --> n{b}\n"));
        }
    }
    out.trim_end().to_string()
}
