//! Numbers as Plivo and Vonage write them: country code and digits, no `+`; vox keeps E.164.

/// A carrier's number as E.164: digits only gain their `+`; anything else (a SIP URI) is kept.
pub fn e164(number: &str) -> String {
    let number = number.trim();
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{number}")
    } else {
        number.to_owned()
    }
}

/// An E.164 number as those carriers' APIs take it: the digits, without `+`.
pub fn digits(number: &str) -> &str {
    number.trim().trim_start_matches('+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_numbers_read_as_e164_and_are_written_as_digits() {
        assert_eq!(e164("14155550100"), "+14155550100");
        assert_eq!(e164("+14155550100"), "+14155550100");
        assert_eq!(e164("sip:alice@example.com"), "sip:alice@example.com");
        assert_eq!(digits("+14155550100"), "14155550100");
    }
}
