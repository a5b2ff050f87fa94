//! Self-contained HTML pages: headings, paragraphs and tables, with all text escaped and the
//! style inline, so a page opens from disk in any browser without a server or network.

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
    Paragraph(String),
    Table(Table),
}

/// A page under construction.
pub struct Page {
    title: String,
    blocks: Vec<Block>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #bbb;padding:.3rem .6rem;text-align:right}\
th{background:#eef}td:first-child,th:first-child{text-align:left}caption{font-weight:600;text-align:left;padding:.3rem 0}";

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

    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
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
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            escape(&self.title),
            escape(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(t) => {
                    let _ = writeln!(out, "<h2>{}</h2>", escape(t));
                }
                Block::Paragraph(t) => {
                    let _ = writeln!(out, "<p>{}</p>", escape(t));
                }
                Block::Table(t) => render_table(&mut out, t),
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn render_table(out: &mut String, t: &Table) {
    let _ = write!(
        out,
        "<table><caption>{}</caption><thead><tr>",
        escape(&t.caption)
    );
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
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
        assert!(page.contains("<td>&lt;td&gt;</td>") && page.contains("<th>x&#39;</th>"));
    }

    #[test]
    fn pages_are_self_contained() {
        let page = Page::new("t").paragraph("see https://example.org").render();
        // Text may mention a URL; the markup itself loads nothing.
        for attr in ["src=", "href=", "@import", "url("] {
            assert!(!page.contains(attr), "{attr}");
        }
    }
}
