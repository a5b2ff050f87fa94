//! The one font of every report: a subset of Noto Sans CJK JP (`assets/dxsim-sans.otf`, SIL OFL
//! 1.1, see `assets/OFL.txt`), embedded in the binary. plotters measures text with it, and the
//! HTML page and each SVG carry it as an `@font-face` data URL, so text renders the same in any
//! browser with no system font and no network.

use base64::Engine as _;
use std::sync::OnceLock;

/// The font file.
pub const BYTES: &[u8] = include_bytes!("../assets/dxsim-sans.otf");

/// The family name charts and pages ask for.
pub const FAMILY: &str = "dxsim-sans";

/// The `@font-face` rule declaring [`FAMILY`] from the embedded file.
pub fn face_css() -> &'static str {
    static CSS: OnceLock<String> = OnceLock::new();
    CSS.get_or_init(|| {
        format!(
            "@font-face{{font-family:\"{FAMILY}\";src:url(data:font/otf;base64,{}) format(\"opentype\");font-weight:100 900}}",
            base64::engine::general_purpose::STANDARD.encode(BYTES)
        )
    })
}

/// Registers the font with plotters (normal and bold; the browser emboldens the bold), once.
pub fn register() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        use plotters::style::{FontStyle, register_font};
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if register_font(FAMILY, style, BYTES).is_err() {
                panic!("the embedded font does not parse");
            }
        }
    });
}

/// Characters of `text` the font has no glyph for (control characters aside).
pub fn missing(text: &str) -> Vec<char> {
    use ab_glyph::Font as _;
    static FONT: OnceLock<ab_glyph::FontRef<'static>> = OnceLock::new();
    let font = FONT.get_or_init(|| ab_glyph::FontRef::try_from_slice(BYTES).expect("font parses"));
    let mut out: Vec<char> = text
        .chars()
        .filter(|c| !c.is_control() && font.glyph_id(*c).0 == 0)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_and_the_printable_ascii_are_in_the_font() {
        let ascii: String = (0x20u8..0x7f).map(char::from).collect();
        assert_eq!(missing(&ascii), Vec::<char>::new());
        for k in crate::terms::KEYS {
            let term = crate::terms::ja(k).expect("a term");
            assert_eq!(
                missing(term),
                Vec::<char>::new(),
                "{k}: {term} — re-run reports/assets/subset-font.py"
            );
        }
        // A character no report uses is indeed absent: the check can fail. (Written as a code
        // point, since the subset keeps every character written in reports/src.)
        let absent = char::from_u32(0x9B31).unwrap();
        assert_eq!(missing(&format!("a{absent}")), vec![absent]);
    }

    #[test]
    fn the_face_is_a_data_url() {
        let css = face_css();
        assert!(css.starts_with(
            "@font-face{font-family:\"dxsim-sans\";src:url(data:font/otf;base64,T1RUTw"
        ));
    }
}
