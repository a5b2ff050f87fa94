//! `dx-reports`: turns dxsim's run outputs into reports people open in a browser.
//!
//! It starts with [`html`], a builder of self-contained HTML pages (inline style, no external
//! URLs, every text escaped); the loopback benchmark writes its results with it. Charts (plotters)
//! and tables computed with polars join it as the reports grow.

pub mod html;
