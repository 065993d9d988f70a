//! Column lineage from a logical plan: for each output column, the input table columns its value
//! is computed from. Filters, join keys and sort keys decide which rows appear but not a
//! column's value, so they are not counted. Nodes the walk does not understand end the trail
//! for that column (the version-level lineage edge still holds).

use std::collections::BTreeSet;

use datafusion::logical_expr::{Expr, LogicalPlan};

/// `(table, column)` of a source column, as the plan names the table (`bronze.orders`).
pub type Source = (String, String);

/// For each output column of `plan`, in order: its name and its sources.
pub fn column_sources(plan: &LogicalPlan) -> Vec<(String, BTreeSet<Source>)> {
    plan.schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut out = BTreeSet::new();
            trace(plan, i, &mut out);
            (f.name().clone(), out)
        })
        .collect()
}

fn from_expr(input: &LogicalPlan, expr: &Expr, out: &mut BTreeSet<Source>) {
    for col in expr.column_refs() {
        if let Ok(j) = input.schema().index_of_column(col) {
            trace(input, j, out);
        }
    }
}

fn trace(plan: &LogicalPlan, i: usize, out: &mut BTreeSet<Source>) {
    match plan {
        LogicalPlan::TableScan(scan) => {
            if let Some(f) = scan.projected_schema.fields().get(i) {
                out.insert((scan.table_name.to_string(), f.name().clone()));
            }
        }
        LogicalPlan::Projection(p) => {
            if let Some(expr) = p.expr.get(i) {
                from_expr(&p.input, expr, out);
            }
        }
        LogicalPlan::Aggregate(a) => {
            let groups = a.group_expr.len();
            let expr = if i < groups {
                a.group_expr.get(i)
            } else {
                a.aggr_expr.get(i - groups)
            };
            if let Some(expr) = expr {
                from_expr(&a.input, expr, out);
            }
        }
        LogicalPlan::Window(w) => {
            let passed = w.input.schema().fields().len();
            if i < passed {
                trace(&w.input, i, out);
            } else if let Some(expr) = w.window_expr.get(i - passed) {
                from_expr(&w.input, expr, out);
            }
        }
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            if i < left {
                trace(&j.left, i, out);
            } else {
                trace(&j.right, i - left, out);
            }
        }
        LogicalPlan::Union(u) => {
            for input in &u.inputs {
                trace(input, i, out);
            }
        }
        other => {
            // Filters, sorts, limits, aliases, distinct: the columns pass through unchanged.
            let inputs = other.inputs();
            if let [input] = inputs.as_slice()
                && input.schema().fields().len() == other.schema().fields().len()
            {
                trace(input, i, out);
            }
        }
    }
}
