//! Lineage as an SVG picture, drawn here: a layered layout left to right (bronze, then silver,
//! then gold; a node also sits right of everything it was computed from), nodes ordered within
//! a column by where their inputs sit, edges as curves from an input's right side to an
//! output's left. No script, no external style: the picture reads on its own, in a browser, an
//! editor or a pull request.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A node to draw: its id (also its label), the column its zone asks for, and where it links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its id, also its label.
    pub id: String,
    /// 0 for bronze, 1 for silver, 2 for gold.
    pub rank: usize,
    /// Where it links, if anywhere.
    pub href: Option<String>,
    /// A second line under the label (rows, state).
    pub note: Option<String>,
    /// Drawn highlighted: the node the picture is about.
    pub selected: bool,
}

const NODE_W: usize = 230;
const NODE_H: usize = 44;
const COL_GAP: usize = 90;
const ROW_GAP: usize = 18;
const MARGIN: usize = 16;

/// The SVG of `nodes` and `edges` (`(input id, output id)`); edges naming unknown nodes, and
/// edges from a node to itself, are left out.
pub fn lineage_svg(nodes: &[Node], edges: &[(String, String)]) -> String {
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let edges: BTreeSet<(usize, usize)> = edges
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
        .filter(|(a, b)| a != b)
        .collect();
    let layer = layers(nodes, &edges);
    let columns = layer.iter().copied().max().map_or(0, |m| m + 1);
    // Each column's nodes, ordered by the mean row of their inputs, then by name.
    let mut rows: Vec<usize> = vec![0; nodes.len()];
    let mut by_column: Vec<Vec<usize>> = Vec::with_capacity(columns);
    for c in 0..columns {
        let mut members: Vec<(f64, &str, usize)> = (0..nodes.len())
            .filter(|&i| layer[i] == c)
            .map(|i| {
                let inputs: Vec<f64> = edges
                    .iter()
                    .filter(|(_, b)| *b == i)
                    .map(|(a, _)| rows[*a] as f64)
                    .collect();
                let centre = if inputs.is_empty() {
                    f64::MAX
                } else {
                    inputs.iter().sum::<f64>() / inputs.len() as f64
                };
                (centre, nodes[i].id.as_str(), i)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        for (row, (_, _, i)) in members.iter().enumerate() {
            rows[*i] = row;
        }
        by_column.push(members.into_iter().map(|(_, _, i)| i).collect());
    }
    // Heights: a node sits level with the middle of its inputs where the column leaves room,
    // below the node above it otherwise.
    let step = (NODE_H + ROW_GAP) as f64;
    let mut top: Vec<f64> = vec![0.0; nodes.len()];
    for column in &by_column {
        let mut next_free = 0.0f64;
        for &i in column {
            let inputs: Vec<f64> = edges
                .iter()
                .filter(|(_, b)| *b == i)
                .map(|(a, _)| top[*a])
                .collect();
            let wanted = if inputs.is_empty() {
                next_free
            } else {
                inputs.iter().sum::<f64>() / inputs.len() as f64
            };
            top[i] = wanted.max(next_free);
            next_free = top[i] + step;
        }
    }
    let lowest = top.iter().copied().fold(0.0f64, f64::max);
    let width = MARGIN * 2 + columns * NODE_W + columns.saturating_sub(1) * COL_GAP;
    let height = if nodes.is_empty() {
        MARGIN * 2
    } else {
        MARGIN * 2 + lowest.round() as usize + NODE_H
    };
    let at = |i: usize| {
        let x = MARGIN + layer[i] * (NODE_W + COL_GAP);
        let y = MARGIN + top[i].round() as usize;
        (x, y)
    };

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="13">"##
    );
    svg.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a94a6"/></marker></defs>"##,
    );
    for &(a, b) in &edges {
        let (ax, ay) = at(a);
        let (bx, by) = at(b);
        let (x1, y1) = (ax + NODE_W, ay + NODE_H / 2);
        let (x2, y2) = (bx, by + NODE_H / 2);
        let bend = (x2 as i64 - x1 as i64).abs().max(40) / 2;
        let _ = write!(
            svg,
            r##"<path class="edge" data-from="{}" data-to="{}" d="M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}" fill="none" stroke="#8a94a6" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
            escape(&nodes[a].id),
            escape(&nodes[b].id),
            x1 as i64 + bend,
            x2 as i64 - bend,
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = at(i);
        let (fill, stroke) = match n.rank {
            0 => ("#f6efe6", "#b08850"),
            1 => ("#eef2f6", "#7d8fa8"),
            _ => ("#fbf6dc", "#b59a2c"),
        };
        let stroke_width = if n.selected { 3 } else { 1 };
        let mut body = String::new();
        let _ = write!(
            body,
            r##"<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"/><text x="{}" y="{}" font-weight="600" fill="#1f2933">{}</text>"##,
            x + 10,
            y + if n.note.is_some() { 18 } else { 27 },
            escape(&clip(&n.id, 30)),
        );
        if let Some(note) = &n.note {
            let _ = write!(
                body,
                r##"<text x="{}" y="{}" fill="#52606d" font-size="11">{}</text>"##,
                x + 10,
                y + 34,
                escape(&clip(note, 36)),
            );
        }
        let _ = write!(
            svg,
            r##"<g class="node" data-id="{}"><title>{}</title>"##,
            escape(&n.id),
            escape(&n.id)
        );
        match &n.href {
            Some(href) => {
                let _ = write!(svg, r##"<a href="{}">{body}</a>"##, escape(href));
            }
            None => svg.push_str(&body),
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// Each node's column: at least its zone's, and one right of every input (longest path).
/// A cycle (not possible in a lake's lineage) stops moving nodes after as many rounds as nodes.
fn layers(nodes: &[Node], edges: &BTreeSet<(usize, usize)>) -> Vec<usize> {
    let mut layer: Vec<usize> = nodes.iter().map(|n| n.rank).collect();
    for _ in 0..nodes.len() {
        let mut moved = false;
        for &(a, b) in edges {
            if layer[b] < layer[a] + 1 {
                layer[b] = layer[a] + 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    // Close up columns nothing is in.
    let used: BTreeSet<usize> = layer.iter().copied().collect();
    let compact: BTreeMap<usize, usize> =
        used.into_iter().enumerate().map(|(i, l)| (l, i)).collect();
    layer.iter().map(|l| compact[l]).collect()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Text for XML: `<`, `>`, `&` and both quotes escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, rank: usize) -> Node {
        Node {
            id: id.into(),
            rank,
            href: Some(format!("/d/{id}")),
            note: None,
            selected: false,
        }
    }

    #[test]
    fn columns_follow_zones_and_inputs() {
        let nodes = [
            node("gold.f", 2),
            node("bronze.a", 0),
            node("silver.b", 1),
            node("silver.c", 1),
        ];
        let edges = [
            ("bronze.a".to_string(), "silver.b".to_string()),
            ("silver.b".to_string(), "silver.c".to_string()),
            ("silver.c".to_string(), "gold.f".to_string()),
        ];
        let set: BTreeSet<(usize, usize)> = [(1, 2), (2, 3), (3, 0)].into();
        assert_eq!(layers(&nodes, &set), vec![3, 0, 1, 2]);
        let svg = lineage_svg(&nodes, &edges);
        assert_eq!(svg.matches(r#"class="node""#).count(), 4);
        assert_eq!(svg.matches(r#"class="edge""#).count(), 3);
    }

    #[test]
    fn labels_are_escaped_and_self_edges_left_out() {
        let nodes = [node("bronze.<x>", 0)];
        let svg = lineage_svg(&nodes, &[("bronze.<x>".into(), "bronze.<x>".into())]);
        assert!(svg.contains("bronze.&lt;x&gt;"));
        assert!(!svg.contains("<x>"));
        assert_eq!(svg.matches(r#"class="edge""#).count(), 0);
    }
}
