//! *Omocodia*: when two people would get the same code, the tax agency replaces digits,
//! right to left, with letters (DM 23/12/1976; circ. Min. Finanze): positions 15, 14,
//! 13, 11, 10, 8, 7 (1-based) may hold `LMNPQRSTUV` for 0-9. The check character is
//! recomputed on the substituted code, so it differs from the original's.

/// 0-based positions that may be substituted, in the order the agency substitutes them.
pub(crate) const POSITIONS_RIGHT_TO_LEFT: [usize; 7] = [14, 13, 12, 10, 9, 7, 6];

/// Letter used in place of each digit 0-9.
pub(crate) const LETTERS: &[u8; 10] = b"LMNPQRSTUV";

/// The digit a substitution letter stands for.
pub(crate) fn digit_for(letter: u8) -> Option<u8> {
    LETTERS
        .iter()
        .position(|&l| l == letter)
        .map(|d| b'0' + d as u8)
}

/// The letter standing for a digit.
pub(crate) fn letter_for(digit: u8) -> u8 {
    LETTERS[usize::from(digit.saturating_sub(b'0')).min(9)]
}

/// Whether the substituted positions follow the agency's right-to-left order: every
/// substituted position must have all positions to its right substituted too.
pub(crate) fn is_standard_order(code: &[u8; 16]) -> bool {
    let substituted: Vec<bool> = POSITIONS_RIGHT_TO_LEFT
        .iter()
        .map(|&p| code[p].is_ascii_uppercase())
        .collect();
    // Once a position is a digit, no later (more to the left) one may be a letter.
    let first_digit = substituted
        .iter()
        .position(|s| !s)
        .unwrap_or(substituted.len());
    substituted[first_digit..].iter().all(|s| !s)
}
