//! Lays a certificate's text out on one A4 page and writes the PDF.
//!
//! The text is set in the PDF standard fonts Helvetica and Helvetica-Bold with
//! WinAnsiEncoding, which covers Italian accents: nothing is embedded, every reader has
//! them, and a certificate is a few kilobytes. The content stream is not compressed, so
//! the text can be read back from the bytes. The QR code is drawn as filled rectangles.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};
use qrcode::{Color, EcLevel, QrCode};

use super::compose::Document;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The QR code's content does not fit a QR code (a far too long verification URL).
    #[error("QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 60.0;
const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const QR_SIZE: f32 = 92.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
}

/// Renders `document` as a one-page PDF.
pub fn render(document: &Document) -> Result<Vec<u8>, RenderError> {
    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        p.parent(pages);
        p.contents(contents);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(REGULAR, regular);
        fonts.pair(BOLD, bold);
    }
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr(&document.title))
        .creator(TextStr("Sportello - anagrafe"));

    let mut page_text = Page::new();
    page_text.lay_out(document);
    page_text.qr(&document.qr_payload, MARGIN, MARGIN)?;
    pdf.stream(contents, &page_text.content.finish());
    Ok(pdf.finish())
}

/// A page being written, top to bottom.
struct Page {
    content: Content,
    y: f32,
}

impl Page {
    fn new() -> Self {
        Self {
            content: Content::new(),
            y: PAGE_HEIGHT - 62.0,
        }
    }

    fn lay_out(&mut self, d: &Document) {
        let mut header = d.header.iter();
        if let Some(first) = header.next() {
            self.centered(first, Face::Bold, 16.0, 20.0);
        }
        for line in header {
            self.centered(line, Face::Regular, 10.0, 13.0);
        }
        self.rule();
        self.y -= 34.0;
        for line in wrap(&d.title, Face::Bold, 14.0, TEXT_WIDTH) {
            self.centered(&line, Face::Bold, 14.0, 20.0);
        }
        self.y -= 18.0;

        let mut paragraphs = d.paragraphs.iter();
        if let Some(intro) = paragraphs.next() {
            self.paragraph(intro, Face::Regular, 11.0);
        }
        self.y -= 4.0;
        let mut person = d.person.iter();
        if let Some(name) = person.next() {
            self.line(name, Face::Bold, 12.0, MARGIN + 20.0, 17.0);
        }
        for line in person {
            self.line(line, Face::Regular, 11.0, MARGIN + 20.0, 15.0);
        }
        self.y -= 6.0;
        for paragraph in paragraphs {
            self.paragraph(paragraph, Face::Regular, 11.0);
        }
        if !d.family.is_empty() {
            self.y -= 4.0;
            for [name, born, relationship] in &d.family {
                self.at(name, Face::Regular, 10.0, MARGIN + 20.0);
                self.at(born, Face::Regular, 10.0, MARGIN + 270.0);
                self.at(relationship, Face::Regular, 10.0, MARGIN + 350.0);
                self.y -= 14.0;
            }
        }
        self.y -= 10.0;
        for term in &d.terms {
            self.paragraph(term, Face::Regular, 10.0);
        }
        self.y -= 6.0;
        self.paragraph(&d.notice, Face::Bold, 10.0);
        self.y -= 14.0;
        self.line(&d.issued, Face::Regular, 10.0, MARGIN, 14.0);
        self.y -= 10.0;
        let mut signature = d.signature.iter();
        if let Some(officer) = signature.next() {
            self.line(
                officer,
                Face::Regular,
                10.0,
                PAGE_WIDTH - MARGIN - 160.0,
                13.0,
            );
        }
        for line in signature {
            self.paragraph(line, Face::Regular, 8.0);
        }

        // Bottom: the QR code on the left, the code and the address beside it.
        let mut y = MARGIN + QR_SIZE - 22.0;
        for line in &d.verification {
            for part in wrap(line, Face::Regular, 9.0, TEXT_WIDTH - QR_SIZE - 16.0) {
                self.text_at(&part, Face::Regular, 9.0, MARGIN + QR_SIZE + 16.0, y);
                y -= 12.0;
            }
        }
    }

    /// A paragraph wrapped to the text width.
    fn paragraph(&mut self, text: &str, face: Face, size: f32) {
        for line in wrap(text, face, size, TEXT_WIDTH) {
            self.line(&line, face, size, MARGIN, size * 1.4);
        }
    }

    fn line(&mut self, text: &str, face: Face, size: f32, x: f32, leading: f32) {
        self.at(text, face, size, x);
        self.y -= leading;
    }

    fn centered(&mut self, text: &str, face: Face, size: f32, leading: f32) {
        let x = (PAGE_WIDTH - width(text, face, size)) / 2.0;
        self.line(text, face, size, x.max(MARGIN), leading);
    }

    fn at(&mut self, text: &str, face: Face, size: f32, x: f32) {
        self.text_at(text, face, size, x, self.y);
    }

    fn text_at(&mut self, text: &str, face: Face, size: f32, x: f32, y: f32) {
        let font = match face {
            Face::Regular => REGULAR,
            Face::Bold => BOLD,
        };
        let bytes = win_ansi(text);
        self.content
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    fn rule(&mut self) {
        self.y -= 4.0;
        self.content
            .set_line_width(0.6)
            .move_to(MARGIN, self.y)
            .line_to(PAGE_WIDTH - MARGIN, self.y)
            .stroke();
    }

    /// The QR code with its bottom-left corner at (x, y), dark modules as rectangles
    /// (one per horizontal run).
    fn qr(&mut self, payload: &str, x: f32, y: f32) -> Result<(), RenderError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)?;
        let width = code.width();
        let module = QR_SIZE / width as f32;
        let colors = code.to_colors();
        self.content.set_fill_gray(0.0);
        for (row, modules) in colors.chunks(width).enumerate() {
            let top = y + QR_SIZE - (row as f32 + 1.0) * module;
            let mut column = 0;
            while column < width {
                if modules[column] == Color::Dark {
                    let start = column;
                    while column < width && modules[column] == Color::Dark {
                        column += 1;
                    }
                    self.content.rect(
                        x + start as f32 * module,
                        top,
                        (column - start) as f32 * module,
                        module,
                    );
                } else {
                    column += 1;
                }
            }
        }
        self.content.fill_nonzero();
        Ok(())
    }
}

/// Splits `text` into lines no wider than `max` points, at spaces.
fn wrap(text: &str, face: Face, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate, face, size) > max && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The width of `text` in points (Helvetica metrics, accented letters as their base).
fn width(text: &str, face: Face, size: f32) -> f32 {
    let table = match face {
        Face::Regular => &HELVETICA,
        Face::Bold => &HELVETICA_BOLD,
    };
    let units: u32 = text
        .chars()
        .map(|c| {
            let base = fold(c);
            match base as u32 {
                code @ 32..=126 => u32::from(table[(code - 32) as usize]),
                _ => 556,
            }
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `text` in WinAnsiEncoding (Windows-1252). Letters outside it fall back to their base
/// letter (ș → s); anything else becomes '?'.
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            'Š' => 0x8a,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            'š' => 0x9a,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            other => {
                let base = fold(other);
                if base.is_ascii() && base != other {
                    base as u8
                } else {
                    b'?'
                }
            }
        })
        .collect()
}

/// The unaccented base letter of a Latin letter (for widths and for letters WinAnsi
/// lacks); other characters unchanged.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ă' | 'ą' | 'ā' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ă' | 'Ą' | 'Ā' => 'A',
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' | 'ē' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ę' | 'Ě' | 'Ē' => 'E',
        'ì' | 'í' | 'î' | 'ï' | 'ı' | 'ī' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'İ' | 'Ī' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' | 'ō' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ő' | 'Ō' => 'O',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' | 'ū' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ů' | 'Ű' | 'Ū' => 'U',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'ñ' | 'ń' | 'ň' => 'n',
        'Ñ' | 'Ń' | 'Ň' => 'N',
        'ș' | 'ş' | 'ś' | 'š' => 's',
        'Ș' | 'Ş' | 'Ś' | 'Š' => 'S',
        'ț' | 'ţ' | 'ť' => 't',
        'Ț' | 'Ţ' | 'Ť' => 'T',
        'ź' | 'ż' | 'ž' => 'z',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ł' => 'l',
        'Ł' => 'L',
        'ř' => 'r',
        'Ř' => 'R',
        'ğ' => 'g',
        'Ğ' => 'G',
        'đ' | 'ď' => 'd',
        'Đ' | 'Ď' => 'D',
        '’' | '‘' => '\'',
        '€' => '0',
        other => other,
    }
}

/// Helvetica advance widths (1/1000 em) of ASCII 32-126, from the font's AFM.
#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Helvetica-Bold advance widths (1/1000 em) of ASCII 32-126, from the font's AFM.
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// The text a PDF written here shows, read back from its content stream: each string
/// shown with `Tj`, decoded from WinAnsi, one per line. For tests, and for checking
/// what a stored certificate says.
pub fn shown_text(pdf: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < pdf.len() {
        let (text, end) = match pdf[i] {
            b'(' => literal_string(pdf, i + 1),
            b'<' if pdf.get(i + 1).is_some_and(u8::is_ascii_hexdigit) => hex_string(pdf, i + 1),
            _ => {
                i += 1;
                continue;
            }
        };
        let after = &pdf[end.min(pdf.len())..];
        let rest = after
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&[][..], |p| &after[p..]);
        if rest.starts_with(b"Tj") {
            out.extend(text.iter().map(|&b| decode_win_ansi(b)));
            out.push('\n');
        }
        i = end.max(i + 1);
    }
    out
}

/// A literal string starting after its `(`: its bytes and the index after its `)`.
fn literal_string(pdf: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    let mut depth = 0;
    while i < pdf.len() {
        match pdf[i] {
            b'\\' => {
                i += 1;
                let Some(&next) = pdf.get(i) else { break };
                match next {
                    b'n' => text.push(b'\n'),
                    b'r' => text.push(b'\r'),
                    b't' => text.push(b'\t'),
                    b'b' => text.push(0x08),
                    b'f' => text.push(0x0c),
                    b'0'..=b'7' => {
                        let digits = pdf[i..]
                            .iter()
                            .take(3)
                            .take_while(|d| (b'0'..=b'7').contains(d))
                            .count();
                        let value = pdf[i..i + digits]
                            .iter()
                            .fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                        text.push(value as u8);
                        i += digits - 1;
                    }
                    other => text.push(other),
                }
            }
            b'(' => {
                depth += 1;
                text.push(b'(');
            }
            b')' if depth == 0 => return (text, i + 1),
            b')' => {
                depth -= 1;
                text.push(b')');
            }
            byte => text.push(byte),
        }
        i += 1;
    }
    (text, i)
}

/// A hex string starting after its `<`: its bytes and the index after its `>`.
fn hex_string(pdf: &[u8], i: usize) -> (Vec<u8>, usize) {
    let end = pdf[i..]
        .iter()
        .position(|&b| b == b'>')
        .map_or(pdf.len(), |p| i + p);
    let digits: Vec<u8> = pdf[i..end]
        .iter()
        .filter_map(|&b| (b as char).to_digit(16).map(|d| d as u8))
        .collect();
    let text = digits
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
        .collect();
    (text, end + 1)
}

fn decode_win_ansi(byte: u8) -> char {
    match byte {
        0x80 => '€',
        0x92 => '’',
        0x96 => '–',
        0x97 => '—',
        b => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_are_win_ansi_and_other_letters_fall_back() {
        assert_eq!(
            win_ansi("può è €"),
            [b'p', b'u', 0xf2, b' ', 0xe8, b' ', 0x80]
        );
        assert_eq!(win_ansi("Ștefănescu"), b"Stefanescu");
        assert_eq!(win_ansi("王"), b"?");
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text = super::super::compose::ART_40_NOTICE;
        let lines = wrap(text, Face::Bold, 10.0, TEXT_WIDTH);
        assert!(lines.len() >= 2);
        assert_eq!(lines.join(" "), text);
        assert!(
            lines
                .iter()
                .all(|l| width(l, Face::Bold, 10.0) <= TEXT_WIDTH)
        );
    }
}
