//! The check character, DM 23/12/1976 (allegato): characters in odd positions (1st,
//! 3rd, …, 15th) are worth the odd table, those in even positions their plain value
//! (digits 0-9, letters A=0 … Z=25); the sum modulo 26 is the check letter.

/// Values of the characters in odd positions, indexed by digit value or letter (A=0).
/// The table is the decree's; digits share the values of the letters A-J.
const ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

fn index(c: u8) -> u32 {
    match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'Z' => u32::from(c - b'A'),
        // Callers only pass validated characters; 0 keeps this total.
        _ => 0,
    }
}

/// The check character for the first 15 characters (uppercase letters and digits).
pub(crate) fn check_char(first15: &[u8]) -> u8 {
    let sum: u32 = first15
        .iter()
        .take(15)
        .enumerate()
        .map(|(i, &c)| {
            // Positions count from 1, so index 0 is an odd position.
            if i % 2 == 0 {
                ODD[index(c) as usize]
            } else {
                index(c)
            }
        })
        .sum();
    b'A' + (sum % 26) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples() {
        // RSSMRA85T10A562S: the agency's own example of Mario Rossi, 10/12/1985, San Giuliano Terme.
        assert_eq!(check_char(b"RSSMRA85T10A562"), b'S');
        // The omocodic variant changes the check character too.
        assert_eq!(check_char(b"RSSMRA85T10A56N"), b'H');
    }
}
