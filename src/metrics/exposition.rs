//! The Prometheus text exposition format (version 0.0.4), written by hand: a few gauges do not
//! justify a metrics crate, but the format has rules a hand-written file easily breaks — every
//! sample of a family together under one `# HELP` and `# TYPE`, label values escaped (`\\`, `\"`,
//! `\n`), help text escaped (`\\`, `\n`), numbers in Go's float syntax (`NaN`, `+Inf`).

use std::fmt::Write;

/// One metric family: a gauge and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    /// An empty gauge family.
    pub fn gauge(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            samples: Vec::new(),
        }
    }

    /// Adds a sample.
    pub fn sample(&mut self, labels: &[(&'static str, &str)], value: f64) {
        let labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.samples.push((labels, value));
    }

    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether it has no sample (such families are left out).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// The exposition text of `families` (empty ones left out).
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        for (labels, value) in &f.samples {
            out.push_str(f.name);
            if !labels.is_empty() {
                let inner: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let _ = write!(out, "{{{}}}", inner.join(","));
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
    out
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "+Inf" } else { "-Inf" }).to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_and_escaped() {
        let mut a = Family::gauge("x_rows", "Rows\nread \\ kept.");
        a.sample(&[("resource", "pat\"ients\\\n")], 12.0);
        a.sample(&[("resource", "b")], 0.5);
        let empty = Family::gauge("x_empty", "never shown");
        let mut c = Family::gauge("x_nan", "odd values");
        c.sample(&[], f64::NAN);
        c.sample(&[], f64::INFINITY);
        assert_eq!(
            render(&[a, empty, c]),
            "# HELP x_rows Rows\\nread \\\\ kept.\n# TYPE x_rows gauge\n\
             x_rows{resource=\"pat\\\"ients\\\\\\n\"} 12\nx_rows{resource=\"b\"} 0.5\n\
             # HELP x_nan odd values\n# TYPE x_nan gauge\nx_nan NaN\nx_nan +Inf\n"
        );
    }
}
