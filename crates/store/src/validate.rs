//! Checks at the store boundary.
//!
//! Bad input becomes `StoreError::Invalid` naming the field, before any write.

use crate::error::{Result, StoreError};
use crate::model::{NewCampaign, NewCarrierAccount, NewContact, NewUser, Page, ReportFilter};
use contracts::{E164Number, TimeZoneName};

pub(crate) fn phone(field: &str, text: &str) -> Result<E164Number> {
    E164Number::parse(text).map_err(|error| StoreError::invalid(field, error))
}

pub(crate) fn time_zone(field: &str, text: &str) -> Result<TimeZoneName> {
    TimeZoneName::parse(text).map_err(|error| StoreError::invalid(field, error))
}

fn non_empty(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    Ok(())
}

pub(crate) fn page(page: Page) -> Result<Page> {
    if page.limit == 0 || page.limit > Page::MAX_LIMIT {
        return Err(StoreError::invalid(
            "limit",
            format!("must be between 1 and {}", Page::MAX_LIMIT),
        ));
    }
    Ok(page)
}

pub(crate) fn user(user: &NewUser) -> Result<()> {
    if !contracts::shape::is_email(&user.email) {
        return Err(StoreError::invalid(
            "email",
            "must look like name@example.com",
        ));
    }
    non_empty("name", &user.name)?;
    non_empty("password_hash", &user.password_hash)
}

pub(crate) fn campaign(campaign: &NewCampaign) -> Result<()> {
    non_empty("name", &campaign.name)?;
    for (field, value) in [
        ("max_attempts", campaign.max_attempts),
        ("concurrency_cap", campaign.concurrency_cap),
        ("weight", campaign.weight),
    ] {
        if value < 1 {
            return Err(StoreError::invalid(
                field,
                format!("must be at least 1, got {value}"),
            ));
        }
    }
    if !(0.0..=1.0).contains(&campaign.abandon_target) {
        return Err(StoreError::invalid(
            "abandon_target",
            "must be a fraction between 0 and 1",
        ));
    }
    crate::dialler_settings::check(&campaign.settings)
}

/// A contact with its phone and zone parsed; all rows are checked before any is written.
pub(crate) struct CheckedContact<'a> {
    pub phone: E164Number,
    pub timezone: TimeZoneName,
    pub contact: &'a NewContact,
}

pub(crate) fn contacts(rows: &[NewContact]) -> Result<Vec<CheckedContact<'_>>> {
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    rows.iter()
        .enumerate()
        .map(|(index, contact)| {
            let phone = phone(&format!("contacts[{index}].phone"), &contact.phone)?;
            let timezone = time_zone(&format!("contacts[{index}].timezone"), &contact.timezone)?;
            if !seen.insert(phone.clone()) {
                return Err(StoreError::invalid(
                    format!("contacts[{index}].phone"),
                    format!("{phone} appears twice in this batch"),
                ));
            }
            Ok(CheckedContact {
                phone,
                timezone,
                contact,
            })
        })
        .collect()
}

/// The longest range a report covers.
const MAX_REPORT_DAYS: i64 = 400;

pub(crate) fn report(filter: &ReportFilter) -> Result<()> {
    if filter.until <= filter.since {
        return Err(StoreError::invalid("until", "must be after since"));
    }
    if filter.until - filter.since > chrono::Duration::days(MAX_REPORT_DAYS) {
        return Err(StoreError::invalid(
            "since",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    Ok(())
}

pub(crate) fn carrier_account(account: &NewCarrierAccount, creating: bool) -> Result<()> {
    non_empty("name", &account.name)?;
    non_empty("account_sid", &account.account_sid)?;
    match &account.secret {
        Some(secret) => non_empty("secret", secret)?,
        None if creating => return Err(StoreError::invalid("secret", "is required")),
        None => {}
    }
    if let Some(key) = &account.webhook_key {
        non_empty("webhook_key", key)?;
    }
    match (&account.trunk, account.carrier) {
        (Some(_), carrier) if carrier != contracts::telephony::CarrierKind::Sip => {
            return Err(StoreError::invalid(
                "trunk",
                format!("only a sip account has trunk settings, not a {carrier} one"),
            ));
        }
        (Some(trunk), _) => {
            if let Some(username) = &trunk.username {
                non_empty("trunk.username", username)?;
            }
            if let Some(proxy) = &trunk.outbound_proxy {
                non_empty("trunk.outbound_proxy", proxy)?;
            }
            if trunk.register && trunk.username.is_none() {
                return Err(StoreError::invalid(
                    "trunk.username",
                    "is required to register (the trunk's digest username)",
                ));
            }
            if trunk.authenticate_callers && trunk.username.is_none() {
                return Err(StoreError::invalid(
                    "trunk.username",
                    "is required to challenge callers (the username they authenticate as)",
                ));
            }
        }
        (None, _) => {}
    }
    if let Some(url) = &account.api_url
        && !contracts::shape::is_http_url(url)
    {
        return Err(StoreError::invalid(
            "api_url",
            contracts::shape::HTTP_URL_RULE,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for number in &account.numbers {
        if !seen.insert(number.as_str()) {
            return Err(StoreError::invalid(
                "numbers",
                format!("{number} is listed twice"),
            ));
        }
    }
    Ok(())
}
