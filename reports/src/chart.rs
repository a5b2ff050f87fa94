//! Charts: a small model (lines, horizontal bars, heat maps) that keeps its numbers, drawn as SVG
//! with plotters in the embedded font. The same numbers go into the table beside each chart and
//! into `tables/<id>.csv`, so what a reader sees drawn is what they can read and download.

use crate::font;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Width and height of every chart, in SVG pixels.
pub const SIZE: (u32, u32) = (860, 420);

/// Series colours, in order (Okabe–Ito, readable by the colour-blind, then two of Paul Tol's
/// muted scheme so the ten central services each get their own).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
    RGBColor(136, 34, 85),
    RGBColor(153, 153, 51),
];

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// How the x axis labels its ticks.
#[derive(Debug, Clone, PartialEq)]
pub enum XLabels {
    /// The value, formatted compactly.
    Number,
    /// Integral positions name a label (months, categories); other ticks stay blank.
    Names(Vec<String>),
    /// Positions are −log10(1 − p): 0 → 0%, 1 → 90%, 2 → 99%, 3 → 99.9%…
    Percentile,
}

/// One named series of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a chart draws.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Lines {
        series: Vec<Series>,
        x_labels: XLabels,
        y_scale: Scale,
        /// A horizontal line to read the series against (an SLO), with its name.
        reference: Option<(String, f64)>,
    },
    /// One bar per row, top to bottom; `group` picks the colour (e.g. scenario A or B).
    Bars {
        rows: Vec<(String, f64, usize)>,
        groups: Vec<String>,
    },
    /// Values per row (top to bottom) and column; darker is larger.
    Heat {
        rows: Vec<String>,
        columns: Vec<String>,
        values: Vec<Vec<f64>>,
    },
}

/// A chart with everything a reader needs: a title, axis labels with units, and a sentence
/// saying what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File stem and HTML id: letters, digits and `-`.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub reading: String,
    pub body: Body,
}

/// A compact number: 1234567 → "1.23M", 0.0123 → "0.0123".
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 100.0 || (x.fract() == 0.0 && x.abs() < 1e4) {
        0
    } else if x.abs() >= 10.0 {
        1
    } else if x.abs() >= 1.0 || !suffix.is_empty() {
        2
    } else if x == 0.0 {
        0
    } else {
        // Small values keep three significant digits.
        (2 - x.abs().log10().floor() as i32).clamp(0, 9) as usize
    };
    format!("{x:.digits$}{suffix}")
}

fn percentile_label(x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 {
        return String::new();
    }
    let p = 100.0 * (1.0 - 10f64.powf(-x.round()));
    let digits = (x.round() as usize).saturating_sub(2);
    format!("{p:.digits$}%")
}

/// x of a percentile on a percentile axis (100 is drawn a little past the last finite one).
pub fn percentile_x(p: f64) -> f64 {
    if p >= 100.0 {
        6.0
    } else {
        -(1.0 - p / 100.0).log10()
    }
}

fn style(size: u32) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&BLACK)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

impl Chart {
    /// The chart as a standalone SVG document, the font embedded.
    pub fn svg(&self) -> anyhow::Result<String> {
        let inner = self.svg_inline()?;
        Ok(with_font(&inner))
    }

    /// The chart as an SVG element for a page that declares the font itself.
    pub fn svg_inline(&self) -> anyhow::Result<String> {
        font::register();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let titled = root
                .titled(
                    &self.title,
                    (font::FAMILY, 22)
                        .into_font()
                        .style(FontStyle::Bold)
                        .color(&BLACK),
                )
                .map_err(draw_err)?;
            match &self.body {
                Body::Lines {
                    series,
                    x_labels,
                    y_scale,
                    reference,
                } => self.lines(&titled, series, x_labels, *y_scale, reference.as_ref())?,
                Body::Bars { rows, groups } => self.bars(&titled, rows, groups)?,
                Body::Heat {
                    rows,
                    columns,
                    values,
                } => self.heat(&titled, rows, columns, values)?,
            }
            root.present().map_err(draw_err)?;
        }
        Ok(out)
    }

    fn lines(
        &self,
        area: &Area<'_>,
        series: &[Series],
        x_labels: &XLabels,
        y_scale: Scale,
        reference: Option<&(String, f64)>,
    ) -> anyhow::Result<()> {
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (mut x0, mut x1) = min_max(xs).unwrap_or((0.0, 1.0));
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        if *x_labels == XLabels::Percentile {
            x0 = 0.0;
        }
        let ys = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(reference.map(|r| r.1));
        let (y_lo, y_hi) = min_max(ys).unwrap_or((0.0, 1.0));
        let names = match x_labels {
            XLabels::Names(n) => n.clone(),
            _ => Vec::new(),
        };
        let x_fmt = |x: &f64| match x_labels {
            XLabels::Number => compact(*x),
            XLabels::Percentile => percentile_label(*x),
            XLabels::Names(_) => {
                if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                    names.get(x.round() as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        };
        let x_count = match x_labels {
            XLabels::Names(n) => n.len().clamp(2, 12),
            XLabels::Percentile => 8,
            XLabels::Number => 10,
        };
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(84);
        match y_scale {
            Scale::Linear => {
                let top = if y_hi > 0.0 { y_hi * 1.08 } else { 1.0 };
                let bottom = y_lo.min(0.0);
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, bottom..top)
                    .map_err(draw_err)?;
                self.mesh(&mut chart, x_count, &x_fmt)?;
                draw_lines(&mut chart, series, reference, x0, x1)?;
                series_legend(&mut chart)?;
            }
            Scale::Log => {
                let positive = series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1))
                    .chain(reference.map(|r| r.1))
                    .filter(|y| *y > 0.0);
                let (lo, hi) = min_max(positive).unwrap_or((0.1, 1.0));
                let (lo, hi) = (lo / 1.5, (hi * 1.5).max(lo * 10.0));
                // The legend of many series goes to the right of the plot, so the axis spans the
                // data (a legend inside it once stretched a p99 axis under 60 ms to 100,000 ms).
                let beside = series.len() > 3;
                let (plot, legend) = if beside {
                    let width = legend_width(series, reference);
                    let (w, _) = area.dim_in_pixel();
                    let (plot, legend) = area.split_horizontally(w.saturating_sub(width));
                    (plot, Some(legend))
                } else {
                    (area.clone(), None)
                };
                let mut builder = ChartBuilder::on(&plot);
                builder
                    .margin(12)
                    .x_label_area_size(44)
                    .y_label_area_size(84);
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
                    .map_err(draw_err)?;
                self.mesh(&mut chart, x_count, &x_fmt)?;
                let clipped: Vec<Series> = series
                    .iter()
                    .map(|s| Series {
                        name: s.name.clone(),
                        points: s.points.iter().map(|&(x, y)| (x, y.max(lo))).collect(),
                    })
                    .collect();
                draw_lines(&mut chart, &clipped, reference, x0, x1)?;
                match legend {
                    Some(legend) => legend_beside(&legend, series, reference)?,
                    None => series_legend(&mut chart)?,
                }
            }
        }
        Ok(())
    }

    /// Axes, grid and labels of a line chart, whatever the y scale.
    fn mesh<'a, Y>(
        &self,
        chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
        x_count: usize,
        x_fmt: &dyn Fn(&f64) -> String,
    ) -> anyhow::Result<()>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(x_count)
            .y_labels(8)
            .x_label_formatter(x_fmt)
            .y_label_formatter(&|y| compact(*y))
            .label_style(style(15))
            .axis_desc_style(style(16))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(draw_err)
    }

    fn bars(
        &self,
        area: &Area<'_>,
        rows: &[(String, f64, usize)],
        groups: &[String],
    ) -> anyhow::Result<()> {
        let n = rows.len().max(1);
        let hi = rows.iter().map(|r| r.1).fold(0.0, f64::max);
        let hi = if hi > 0.0 { hi * 1.15 } else { 1.0 };
        let label_font = style(15);
        let widest = rows
            .iter()
            .map(|r| label_font.font.box_size(&r.0).map_or(0, |b| b.0))
            .max()
            .unwrap_or(40);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size((widest * 11 / 10 + 32).clamp(60, 440))
            .build_cartesian_2d(0.0..hi, (0..n - 1).into_segmented())
            .map_err(draw_err)?;
        let names: Vec<String> = rows.iter().rev().map(|r| r.0.clone()).collect();
        // The row labels name the rows; the y description stays in the table's header.
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_labels(n)
            .x_labels(8)
            .x_label_formatter(&|x| compact(*x))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .disable_y_mesh()
            .label_style(style(15))
            .axis_desc_style(style(16))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(draw_err)?;
        // Row 0 at the top: plotters counts segments from the bottom.
        for (k, (_, v, g)) in rows.iter().enumerate() {
            let i = n - 1 - k;
            let colour = PALETTE[g % PALETTE.len()];
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*v, SegmentValue::Exact(i + 1)),
                ],
                colour.mix(0.8).filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            chart.draw_series(std::iter::once(bar)).map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    compact(*v),
                    (*v + hi * 0.005, SegmentValue::CenterOf(i)),
                    style(13).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Left,
                        plotters::style::text_anchor::VPos::Center,
                    )),
                )))
                .map_err(draw_err)?;
        }
        if groups.len() > 1 {
            for (g, name) in groups.iter().enumerate() {
                let colour = PALETTE[g % PALETTE.len()];
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, SegmentValue<usize>)>>())
                    .map_err(draw_err)?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                    });
            }
            chart
                .configure_series_labels()
                .label_font(style(15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(draw_err)?;
        }
        Ok(())
    }

    fn heat(
        &self,
        area: &Area<'_>,
        rows: &[String],
        columns: &[String],
        values: &[Vec<f64>],
    ) -> anyhow::Result<()> {
        let (nr, nc) = (rows.len().max(1), columns.len().max(1));
        let hi = values.iter().flatten().copied().fold(0.0, f64::max);
        // Cell c spans 2c..2c+2 on an integer axis, labelled at its centre 2c+1: a segmented axis
        // of one row has no height (one weekday: the quickstart's morning).
        let span = |n: usize| i32::try_from(2 * n).unwrap_or(i32::MAX);
        let centres = |n: usize| (0..span(n)).filter(|v| v % 2 == 1).collect::<Vec<i32>>();
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(
                (0..span(nc)).with_key_points(centres(nc)),
                (0..span(nr)).with_key_points(centres(nr)),
            )
            .map_err(draw_err)?;
        let col_names = columns.to_vec();
        let row_names: Vec<String> = rows.iter().rev().cloned().collect();
        let name = |names: &[String], v: i32| {
            usize::try_from(v / 2)
                .ok()
                .and_then(|i| names.get(i).cloned())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(nc)
            .y_labels(nr)
            .x_label_formatter(&|v| name(&col_names, *v))
            .y_label_formatter(&|v| name(&row_names, *v))
            .disable_mesh()
            .label_style(style(15))
            .axis_desc_style(style(16))
            .draw()
            .map_err(draw_err)?;
        for (r, row) in values.iter().enumerate() {
            let y = span(nr - 1 - r);
            for (c, v) in row.iter().enumerate() {
                let x = span(c);
                let t = if hi > 0.0 { v / hi } else { 0.0 };
                let colour = RGBColor(
                    (247.0 - t * 239.0) as u8,
                    (251.0 - t * 203.0) as u8,
                    (255.0 - t * 148.0) as u8,
                );
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y), (x + 2, y + 2)],
                        colour.filled(),
                    )))
                    .map_err(draw_err)?;
                if nc <= 31 && *v > 0.0 {
                    let ink = if t > 0.55 { WHITE } else { BLACK };
                    chart
                        .draw_series(std::iter::once(Text::new(
                            compact(*v),
                            (x + 1, y + 1),
                            (font::FAMILY, 11).into_font().color(&ink).pos(
                                plotters::style::text_anchor::Pos::new(
                                    plotters::style::text_anchor::HPos::Center,
                                    plotters::style::text_anchor::VPos::Center,
                                ),
                            ),
                        )))
                        .map_err(draw_err)?;
                }
            }
        }
        Ok(())
    }

    /// The chart's numbers as a table: header and rows of text.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        match &self.body {
            Body::Lines {
                series,
                x_labels: XLabels::Names(names),
                ..
            } => {
                // Named positions (months): one row per name, one column per series.
                let mut head = vec![self.x_label.clone()];
                head.extend(series.iter().map(|s| s.name.clone()));
                let rows = names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let mut row = vec![name.clone()];
                        row.extend(series.iter().map(|s| {
                            s.points
                                .iter()
                                .find(|p| (p.0 - i as f64).abs() < 1e-9)
                                .map_or_else(String::new, |p| format!("{}", round_sig(p.1, 9)))
                        }));
                        row
                    })
                    .collect();
                (head, rows)
            }
            Body::Lines {
                series, x_labels, ..
            } => {
                let x_name = self.x_label.clone();
                let head = vec![x_name, "series".to_owned(), self.y_label.clone()];
                let x_text = |x: f64| match x_labels {
                    XLabels::Names(n) => n.get(x.round() as usize).cloned().unwrap_or_default(),
                    XLabels::Percentile => {
                        let p = if x >= 6.0 {
                            100.0
                        } else {
                            100.0 * (1.0 - 10f64.powf(-x))
                        };
                        format!("{}", round_sig(p, 6))
                    }
                    XLabels::Number => format!("{}", round_sig(x, 9)),
                };
                let rows = series
                    .iter()
                    .flat_map(|s| {
                        s.points.iter().map(move |&(x, y)| {
                            vec![x_text(x), s.name.clone(), format!("{}", round_sig(y, 9))]
                        })
                    })
                    .collect();
                (head, rows)
            }
            Body::Bars { rows, groups } => {
                let mut head = vec![self.y_label.clone(), self.x_label.clone()];
                if groups.len() > 1 {
                    head.push("group".into());
                }
                let rows = rows
                    .iter()
                    .map(|(name, v, g)| {
                        let mut r = vec![name.clone(), format!("{}", round_sig(*v, 9))];
                        if groups.len() > 1 {
                            r.push(groups[*g].clone());
                        }
                        r
                    })
                    .collect();
                (head, rows)
            }
            Body::Heat {
                rows,
                columns,
                values,
            } => {
                let mut head = vec![self.y_label.clone()];
                head.extend(columns.iter().cloned());
                let rows = rows
                    .iter()
                    .zip(values)
                    .map(|(name, vs)| {
                        let mut r = vec![name.clone()];
                        r.extend(vs.iter().map(|v| format!("{}", round_sig(*v, 9))));
                        r
                    })
                    .collect();
                (head, rows)
            }
        }
    }

    /// The chart's numbers as CSV (RFC 4180 quoting).
    pub fn csv(&self) -> String {
        let (head, rows) = self.table();
        let mut out = String::new();
        for line in std::iter::once(&head).chain(rows.iter()) {
            let cells: Vec<String> = line.iter().map(|c| csv_cell(c)).collect();
            let _ = writeln!(out, "{}", cells.join(","));
        }
        out
    }
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_owned()
    }
}

/// `v` rounded to `digits` significant digits (so tables do not show float noise).
pub fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

fn draw_lines<'a, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    series: &[Series],
    reference: Option<&(String, f64)>,
    x0: f64,
    x1: f64,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let style = ShapeStyle::from(&colour).stroke_width(2);
        let drawn = if s.points.len() == 1 {
            chart
                .draw_series(std::iter::once(Circle::new(s.points[0], 4, style.filled())))
                .map_err(draw_err)?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(draw_err)?
        };
        drawn.label(s.name.clone()).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 18, y)],
                ShapeStyle::from(&colour).stroke_width(2),
            )
        });
    }
    if let Some((name, y)) = reference {
        let red = RGBColor(200, 0, 0);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, *y), (x1, *y)],
                6,
                4,
                ShapeStyle::from(&red).stroke_width(1),
            ))
            .map_err(draw_err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
    }
    Ok(())
}

fn series_legend<'a, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
) -> anyhow::Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .label_font(style(15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(draw_err)
}

/// Pixels a legend of these names takes beside a plot (a Latin character about 8, a Japanese one
/// about 15, at the legend's size), at most 320.
fn legend_width(series: &[Series], reference: Option<&(String, f64)>) -> u32 {
    let text = |t: &str| -> u32 { t.chars().map(|c| if c.is_ascii() { 8 } else { 15 }).sum() };
    let widest = series
        .iter()
        .map(|s| text(&s.name))
        .chain(reference.map(|r| text(&r.0)))
        .max()
        .unwrap_or(0);
    (widest + 44).min(320)
}

/// The series' legend in its own area to the right of the plot: a stroke of each colour and
/// its name, the reference line last.
fn legend_beside(
    area: &Area<'_>,
    series: &[Series],
    reference: Option<&(String, f64)>,
) -> anyhow::Result<()> {
    let font = style(15);
    let row = |i: usize| 52 + 22 * i32::try_from(i).unwrap_or(i32::MAX / 32);
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let y = row(i);
        area.draw(&PathElement::new(
            vec![(4, y), (22, y)],
            ShapeStyle::from(&colour).stroke_width(2),
        ))
        .map_err(draw_err)?;
        area.draw(&Text::new(s.name.clone(), (28, y - 8), font.clone()))
            .map_err(draw_err)?;
    }
    if let Some((name, _)) = reference {
        let y = row(series.len());
        let red = RGBColor(200, 0, 0);
        area.draw(&PathElement::new(vec![(4, y), (22, y)], red))
            .map_err(draw_err)?;
        area.draw(&Text::new(name.clone(), (28, y - 8), font))
            .map_err(draw_err)?;
    }
    Ok(())
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e:?}")
}

/// The text of every `<text>` element of an SVG, unescaped and trimmed (for tests and checks).
pub fn svg_texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        let Some(open) = rest[i..].find('>') else {
            break;
        };
        let body = &rest[i + open + 1..];
        let Some(close) = body.find("</text>") else {
            break;
        };
        out.push(
            body[..close]
                .trim()
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        );
        rest = &body[close..];
    }
    out
}

/// Puts the `@font-face` rule inside an SVG document, after its opening tag.
fn with_font(svg: &str) -> String {
    let style = format!("<style>{}</style>", font::face_css());
    match svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{style}{}", &svg[..at], &svg[at..]),
        None => svg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Chart {
        Chart {
            id: "t".into(),
            title: "Latency (資格確認)".into(),
            x_label: "time (s)".into(),
            y_label: "p99 (ms)".into(),
            reading: "r".into(),
            body: Body::Lines {
                series: vec![
                    Series {
                        name: "verify (資格確認)".into(),
                        points: vec![(0.0, 1.0), (10.0, 3.0), (20.0, 2.0)],
                    },
                    Series {
                        name: "batch".into(),
                        points: vec![(0.0, 5.0)],
                    },
                ],
                x_labels: XLabels::Number,
                y_scale: Scale::Linear,
                reference: Some(("SLO".into(), 4.0)),
            },
        }
    }

    #[test]
    fn a_log_axis_of_many_series_spans_its_data_and_the_legend_stands_beside() {
        // Six routes' p99 under 60 ms against a 1,000 ms SLO (the quickstart's p99 chart).
        let series = (0..6)
            .map(|i| Series {
                name: format!("route {i} (経路)"),
                points: (0..60)
                    .map(|t| (f64::from(t), 2.0 + f64::from((t + i) % 50)))
                    .collect(),
            })
            .collect();
        let chart = Chart {
            body: Body::Lines {
                series,
                x_labels: XLabels::Number,
                y_scale: Scale::Log,
                reference: Some(("largest p99 SLO".into(), 1000.0)),
            },
            ..lines()
        };
        let texts = svg_texts(&chart.svg().unwrap());
        for t in [
            "route 0 (経路)",
            "route 5 (経路)",
            "largest p99 SLO",
            "1000",
        ] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
        // The axis ends within a decade of the SLO, not at 10k or 100k.
        for t in ["10k", "100k"] {
            assert!(!texts.iter().any(|x| x == t), "{t} in {texts:?}");
        }
    }

    #[test]
    fn a_line_chart_draws_its_title_labels_and_series_in_the_embedded_font() {
        let svg = lines().svg().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        let texts = svg_texts(&svg);
        for text in [
            "Latency (資格確認)",
            "time (s)",
            "p99 (ms)",
            "verify (資格確認)",
            "batch",
            "SLO",
        ] {
            assert!(texts.iter().any(|t| t == text), "{text} not in {texts:?}");
        }
        assert!(svg.contains("font-family=\"dxsim-sans\""));
        assert!(svg.contains("@font-face"));
        // No system font is asked for anywhere.
        assert!(!svg.contains("font-family=\"sans-serif\""));
    }

    #[test]
    fn the_table_holds_every_point() {
        let (head, rows) = lines().table();
        assert_eq!(head, ["time (s)", "series", "p99 (ms)"]);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], ["10", "verify (資格確認)", "3"]);
        assert!(
            lines()
                .csv()
                .starts_with("time (s),series,p99 (ms)\n0,verify (資格確認),1\n")
        );
    }

    #[test]
    fn bars_and_heat_maps_draw() {
        let bars = Chart {
            id: "b".into(),
            title: "t".into(),
            x_label: "requests".into(),
            y_label: "route".into(),
            reading: "r".into(),
            body: Body::Bars {
                rows: vec![("a".into(), 3.0, 0), ("b".into(), 1.0, 1)],
                groups: vec!["A".into(), "B".into()],
            },
        };
        let texts = svg_texts(&bars.svg().unwrap());
        for t in ["a", "b", "A", "B", "3", "requests"] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
        let heat = Chart {
            id: "h".into(),
            title: "t".into(),
            x_label: "hour".into(),
            y_label: "day".into(),
            reading: "r".into(),
            body: Body::Heat {
                rows: vec!["Mon".into(), "Tue".into()],
                columns: vec!["0".into(), "1".into()],
                values: vec![vec![1.0, 2.0], vec![0.0, 4000.0]],
            },
        };
        let texts = svg_texts(&heat.svg().unwrap());
        for t in ["Mon", "Tue", "4000", "hour", "day"] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
        assert_eq!(heat.table().1[1], ["Tue", "0", "4000"]);
        // One weekday (a morning's scenario): its cells have a height, and its name is shown.
        let morning = Chart {
            body: Body::Heat {
                rows: vec!["Mon".into()],
                columns: (0..24).map(|h| h.to_string()).collect(),
                values: vec![(0..24).map(|h| f64::from(h % 5)).collect()],
            },
            ..heat
        };
        let svg = morning.svg().unwrap();
        let cells: Vec<(f64, f64)> = svg
            .split("<rect ")
            .skip(2)
            .map(|r| {
                let attr = |name: &str| -> f64 {
                    let at = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    r[at..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("width"), attr("height"))
            })
            .collect();
        assert_eq!(cells.len(), 24, "{svg}");
        assert!(
            cells.iter().all(|(w, h)| *w > 10.0 && *h > 100.0),
            "{cells:?}"
        );
        let texts = svg_texts(&svg);
        for t in ["Mon", "0", "23", "4"] {
            assert!(texts.iter().any(|x| x == t), "{t} not in {texts:?}");
        }
    }

    #[test]
    fn compact_numbers_and_percentile_axes() {
        assert_eq!(compact(1_234_567.0), "1.23M");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(250.0), "250");
        assert_eq!(compact(0.0123), "0.0123");
        assert_eq!(compact(0.0), "0");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(0.5), "");
        assert!((percentile_x(99.0) - 2.0).abs() < 1e-12);
    }
}
