//! Self-contained HTML pages: headings, paragraphs, tables and charts, with all text escaped,
//! the style inline and the font embedded, so a page opens from disk in any browser without a
//! server, a network or a system font.

use crate::chart::Chart;
use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A table with a caption; cells are plain text.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

enum Block {
    Heading(String),
    Subheading(String),
    Paragraph(String),
    /// A pass/fail line: text and whether it passed.
    Verdict(String, bool),
    Table(Table),
    /// A chart's inline SVG with its caption and numbers; `beside` shows the numbers next to it.
    Figure {
        chart: Box<Chart>,
        svg: String,
        beside: bool,
    },
}

/// Rows of a chart's numbers shown in the page at most (all are in its CSV).
const FIGURE_ROWS: usize = 300;

/// A page under construction.
pub struct Page {
    title: String,
    blocks: Vec<Block>,
}

const STYLE: &str = "body{font-family:\"dxsim-sans\",sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}\
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}\
th{background:#eef}td.text{text-align:left}td:first-child,th:first-child{text-align:left}caption{font-weight:600;text-align:left;padding:.3rem 0}\
h2{border-bottom:2px solid #0072b2;padding-bottom:.2rem;margin-top:2.5rem}\
figure{margin:1.5rem 0;padding:.5rem;border:1px solid #ddd;border-radius:4px}figure svg{max-width:100%;height:auto}\
figure.beside{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start}\
figure.beside .numbers{max-height:30rem;overflow:auto}figcaption{margin:.3rem 0}\
.pass{color:#006b3c;font-weight:600}.fail{color:#b00020;font-weight:600}nav ul{columns:2}";

impl Page {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn heading(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    pub fn subheading(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Subheading(text.into()));
        self
    }

    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn verdict(mut self, text: impl Into<String>, pass: bool) -> Self {
        self.blocks.push(Block::Verdict(text.into(), pass));
        self
    }

    /// A chart, drawn now; `beside` puts its numbers next to it rather than folded below.
    pub fn figure(mut self, chart: Chart, beside: bool) -> anyhow::Result<Self> {
        let svg = chart.svg_inline()?;
        self.blocks.push(Block::Figure {
            chart: Box::new(chart),
            svg,
            beside,
        });
        Ok(self)
    }

    /// The charts on the page, in order.
    pub fn charts(&self) -> impl Iterator<Item = &Chart> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Figure { chart, .. } => Some(chart.as_ref()),
            _ => None,
        })
    }

    pub fn table(mut self, table: Table) -> Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{}{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            escape(&self.title),
            crate::font::face_css(),
            escape(&self.title)
        );
        let sections: Vec<&String> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Heading(t) => Some(t),
                _ => None,
            })
            .collect();
        if sections.len() > 1 {
            out.push_str("<nav><ul>");
            for (i, t) in sections.iter().enumerate() {
                let _ = write!(out, "<li><a href=\"#s{i}\">{}</a></li>", escape(t));
            }
            out.push_str("</ul></nav>\n");
        }
        let mut section = 0;
        for b in &self.blocks {
            match b {
                Block::Heading(t) => {
                    let _ = writeln!(out, "<h2 id=\"s{section}\">{}</h2>", escape(t));
                    section += 1;
                }
                Block::Subheading(t) => {
                    let _ = writeln!(out, "<h3>{}</h3>", escape(t));
                }
                Block::Paragraph(t) => {
                    let _ = writeln!(out, "<p>{}</p>", escape(t));
                }
                Block::Verdict(t, pass) => {
                    let class = if *pass { "pass" } else { "fail" };
                    let _ = writeln!(out, "<p class=\"{class}\">{}</p>", escape(t));
                }
                Block::Table(t) => render_table(&mut out, t),
                Block::Figure { chart, svg, beside } => {
                    render_figure(&mut out, chart, svg, *beside)
                }
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn render_figure(out: &mut String, chart: &Chart, svg: &str, beside: bool) {
    let id = escape(&chart.id);
    let _ = write!(
        out,
        "<figure id=\"chart-{id}\" data-chart=\"{id}\"{}><div class=\"plot\">{svg}<figcaption><strong>{}.</strong> {}</figcaption></div>",
        if beside { " class=\"beside\"" } else { "" },
        escape(&chart.title),
        escape(&chart.reading)
    );
    let (head, rows) = chart.table();
    let shown = rows.len().min(FIGURE_ROWS);
    let summary = if shown < rows.len() {
        format!(
            "Numbers, rounded: the first {shown} of {} rows; all, exact, in tables/{}.csv",
            rows.len(),
            chart.id
        )
    } else {
        format!(
            "Numbers, rounded ({} rows; exact in tables/{}.csv)",
            rows.len(),
            chart.id
        )
    };
    // Numbers read at a glance; the CSV keeps every digit.
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| match c.parse::<f64>() {
                    Ok(v) if v.is_finite() => crate::chart::compact(v),
                    _ => c,
                })
                .collect()
        })
        .collect();
    let table = Table {
        caption: String::new(),
        columns: head,
        rows: rows.into_iter().take(shown).collect(),
    };
    if beside {
        let _ = write!(out, "<div class=\"numbers\"><p>{}</p>", escape(&summary));
        render_table(out, &table);
        out.push_str("</div>");
    } else {
        let _ = write!(
            out,
            "<details class=\"numbers\"><summary>{}</summary>",
            escape(&summary)
        );
        render_table(out, &table);
        out.push_str("</details>");
    }
    out.push_str("</figure>\n");
}

fn render_table(out: &mut String, t: &Table) {
    out.push_str("<table>");
    if !t.caption.is_empty() {
        let _ = write!(out, "<caption>{}</caption>", escape(&t.caption));
    }
    out.push_str("<thead><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            // Numbers align right (the style's default); text reads from the left.
            let numeric = cell
                .trim_end_matches(['%', 'k', 'M', 'G', '×'])
                .replace(['±', ' '], "")
                .parse::<f64>()
                .is_ok()
                || cell.is_empty()
                || cell == "–";
            if numeric {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            } else {
                let _ = write!(out, "<td class=\"text\">{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// Everything in `html` that would load something from outside the page: `src`/`href`
/// attributes and CSS `url(…)` not pointing at a data URL or a fragment, and `@import`.
pub fn external_references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\"", "src='", "href='"] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            if !(value.starts_with("data:") || value.starts_with('#')) {
                let end = value.find(['"', '\'']).unwrap_or(value.len());
                found.push(format!(
                    "{attr}{}{}",
                    &value[..end],
                    &attr[attr.len() - 1..]
                ));
            }
        }
    }
    for (i, _) in html.match_indices("url(") {
        let value = html[i + 4..].trim_start_matches(['"', '\'']);
        if !value.starts_with("data:") {
            let end = value.find(')').map_or(value.len(), |e| e + 1);
            found.push(format!("url({}", &value[..end]));
        }
    }
    if html.contains("@import") {
        found.push("@import".to_owned());
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        let page = Page::new("a<b")
            .heading("\"h\"")
            .paragraph("<script>alert(1)</script>")
            .table(Table {
                caption: "c&d".into(),
                columns: vec!["x'".into()],
                rows: vec![vec!["<td>".into()]],
            })
            .render();
        assert!(!page.contains("<script>"));
        assert!(
            page.contains("a&lt;b") && page.contains("&quot;h&quot;") && page.contains("c&amp;d")
        );
        assert!(
            page.contains("<td class=\"text\">&lt;td&gt;</td>") && page.contains("<th>x&#39;</th>")
        );
    }

    #[test]
    fn pages_are_self_contained() {
        let page = Page::new("t").paragraph("see https://example.org").render();
        // Text may mention a URL; the markup itself loads nothing from elsewhere.
        assert_eq!(external_references(&page), Vec::<String>::new());
        assert_eq!(
            external_references(
                "<img src=\"https://x/a.png\"><style>@import url(//cdn/x.css)</style>"
            ),
            ["@import", "src=\"https://x/a.png\"", "url(//cdn/x.css)"]
        );
    }
}
