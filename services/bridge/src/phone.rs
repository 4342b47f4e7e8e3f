//! Phone numbers from operators' files.
//!
//! Normalised to E.164 with a default region (libphonenumber's rules), and a time zone guessed from
//! the country where it has only one.

use crate::error::{ApiError, ApiResult};
use contracts::E164Number;
use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};
use std::str::FromStr;

/// Checks an ISO 3166 alpha-2 region code such as `US`.
pub fn check_region(field: &str, region: &str) -> ApiResult<Id> {
    Id::from_str(region).map_err(|_| {
        ApiError::invalid(
            field,
            format!("{region:?} is not an ISO 3166 region code such as US or GB"),
        )
    })
}

/// Normalises `text` to E.164: numbers with `+` (or `00`) stand alone; others need `region`.
pub fn normalise(field: &str, text: &str, region: Option<&str>) -> ApiResult<E164Number> {
    let trimmed = text.trim();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let country = match (international, region) {
        (true, _) => None,
        (false, Some(region)) => Some(check_region("default_region", region)?),
        (false, None) => {
            return Err(ApiError::invalid(
                field,
                format!("{trimmed:?} has no country code and the campaign has no default_region"),
            ));
        }
    };
    let text = trimmed
        .strip_prefix("00")
        .map(|rest| format!("+{rest}"))
        .unwrap_or_else(|| trimmed.to_owned());
    let number: PhoneNumber = phonenumber::parse(country, &text).map_err(|error| {
        ApiError::invalid(field, format!("{trimmed:?} is not a phone number: {error}"))
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(ApiError::invalid(
            field,
            format!("{trimmed:?} is not a valid number for its country"),
        ));
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    E164Number::parse(&e164).map_err(|error| ApiError::invalid(field, error.to_string()))
}

/// A number in a JSON body, a path or a filter: E.164 as it stands, the document's pattern.
/// (Operators' national numbers, read with a default region, come in CSV imports: `normalise`.)
pub fn e164(field: &str, text: &str) -> ApiResult<E164Number> {
    E164Number::parse(text).map_err(|error| ApiError::invalid(field, error.to_string()))
}

/// The IANA zone of a number whose country has a single time zone; `None` for countries
/// that span several (US, Canada, Brazil, Australia, Russia, …), where the row must say.
pub fn zone_of(number: &E164Number) -> Option<&'static str> {
    let parsed = phonenumber::parse(None, number.as_str()).ok()?;
    let zone = match parsed.country().id()? {
        Id::GB | Id::GG | Id::JE | Id::IM => "Europe/London",
        Id::IE => "Europe/Dublin",
        Id::FR => "Europe/Paris",
        Id::DE => "Europe/Berlin",
        Id::IT => "Europe/Rome",
        Id::NL => "Europe/Amsterdam",
        Id::BE => "Europe/Brussels",
        Id::CH => "Europe/Zurich",
        Id::AT => "Europe/Vienna",
        Id::SE => "Europe/Stockholm",
        Id::NO => "Europe/Oslo",
        Id::DK => "Europe/Copenhagen",
        Id::FI => "Europe/Helsinki",
        Id::PL => "Europe/Warsaw",
        Id::GR => "Europe/Athens",
        Id::TR => "Europe/Istanbul",
        Id::IN => "Asia/Kolkata",
        Id::PK => "Asia/Karachi",
        Id::BD => "Asia/Dhaka",
        Id::SG => "Asia/Singapore",
        Id::HK => "Asia/Hong_Kong",
        Id::JP => "Asia/Tokyo",
        Id::KR => "Asia/Seoul",
        Id::PH => "Asia/Manila",
        Id::AE => "Asia/Dubai",
        Id::SA => "Asia/Riyadh",
        Id::IL => "Asia/Jerusalem",
        Id::ZA => "Africa/Johannesburg",
        Id::NG => "Africa/Lagos",
        Id::KE => "Africa/Nairobi",
        Id::EG => "Africa/Cairo",
        Id::NZ => "Pacific/Auckland",
        _ => return None,
    };
    Some(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_numbers_take_the_default_region() {
        assert_eq!(
            normalise("phone", "(415) 555-2671", Some("US"))
                .unwrap()
                .as_str(),
            "+14155552671"
        );
        assert_eq!(
            normalise("phone", "020 7183 8750", Some("GB"))
                .unwrap()
                .as_str(),
            "+442071838750"
        );
        assert_eq!(
            normalise("phone", "0044 20 7183 8750", None)
                .unwrap()
                .as_str(),
            "+442071838750"
        );
    }

    #[test]
    fn numbers_that_cannot_be_normalised_name_the_field() {
        let error = normalise("rows[2].phone", "555-0100", None).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("rows[2].phone"));
        assert!(normalise("phone", "12", Some("US")).is_err());
        assert!(normalise("phone", "hello", Some("US")).is_err());
    }

    #[test]
    fn single_zone_countries_give_their_zone_and_others_none() {
        let london = E164Number::parse("+442071838750").unwrap();
        let new_york = E164Number::parse("+12125550123").unwrap();
        assert_eq!(zone_of(&london), Some("Europe/London"));
        assert_eq!(zone_of(&new_york), None);
    }

    #[test]
    fn the_documented_regions_are_exactly_those_libphonenumber_reads() {
        let letters = b'A'..=b'Z';
        let read: Vec<String> = letters
            .clone()
            .flat_map(|a| {
                letters
                    .clone()
                    .map(move |b| String::from_utf8(vec![a, b]).unwrap())
            })
            .filter(|code| check_region("region", code).is_ok())
            .collect();
        assert_eq!(read, contracts::shape::REGIONS);
    }
}
