//! Streamed CSV contact import: the body is parsed as it arrives (never held whole), rows are normalised and checked, and written in batches.
//!
//! Rules, as the API documents them:
//! - the header row names the columns; `phone` (or `phone_column=`) is required, `timezone`
//!   (or `timezone_column=`) is optional, every other column becomes a contact variable;
//! - numbers without a country code take the campaign's `default_region`; a missing time zone is
//!   derived from the number where its country has only one;
//! - a row that fails is skipped and reported with its line number, field and reason;
//! - duplicates: the first row with a number wins; later rows with it, in the file or already in
//!   the campaign, are skipped and reported as duplicates.
//!
//! Each batch is one transaction, so a failure part-way leaves whole batches and the report says
//! exactly which rows went in; importing the same file again skips them as duplicates.

use crate::error::{ApiError, ApiResult};
use crate::phone;
use axum::body::Body;
use contracts::{CampaignId, TimeZoneName};
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashSet;
use store::{NewContact, Store};
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Rows per batch (and per store transaction).
const BATCH: usize = 1000;
/// Detailed rows kept in the report; counts stay exact past it.
const REPORT_LIMIT: usize = 1000;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub phone_column: String,
    pub timezone_column: String,
    pub default_region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RowProblem {
    /// The line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    pub rows: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// The first rejected rows and why.
    pub errors: Vec<RowProblem>,
    /// Lines of the first duplicate rows.
    pub duplicate_lines: Vec<u64>,
    /// True when there were more problems than the report lists.
    pub truncated: bool,
}

impl ImportReport {
    fn reject(&mut self, problem: RowProblem) {
        self.rejected += 1;
        if self.errors.len() < REPORT_LIMIT {
            self.errors.push(problem);
        } else {
            self.truncated = true;
        }
    }

    fn duplicate(&mut self, line: u64) {
        self.duplicates += 1;
        if self.duplicate_lines.len() < REPORT_LIMIT {
            self.duplicate_lines.push(line);
        } else {
            self.truncated = true;
        }
    }
}

type Parsed = Vec<(u64, Result<NewContact, RowProblem>)>;

/// Reads the CSV body on a blocking thread and sends parsed batches; the first message is the
/// header check.
fn parse(
    reader: impl std::io::Read,
    options: ImportOptions,
    batches: mpsc::Sender<ApiResult<Parsed>>,
) {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = match csv.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            let _ = batches.blocking_send(Err(ApiError::invalid(
                "body",
                format!("cannot read the CSV header: {error}"),
            )));
            return;
        }
    };
    let Some(phone_at) = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(&options.phone_column))
    else {
        let message = format!(
            "the header has no {:?} column (columns: {})",
            options.phone_column,
            headers.iter().collect::<Vec<_>>().join(", ")
        );
        let _ = batches.blocking_send(Err(ApiError::invalid("phone_column", message)));
        return;
    };
    let zone_at = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(&options.timezone_column));
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                batch.push((
                    line,
                    row(&headers, &record, line, phone_at, zone_at, &options),
                ));
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                batch.push((
                    line,
                    Err(RowProblem {
                        line,
                        field: "row".into(),
                        message: error.to_string(),
                    }),
                ));
                if !matches!(error.kind(), csv::ErrorKind::Utf8 { .. }) {
                    let _ = batches.blocking_send(Ok(std::mem::take(&mut batch)));
                    let _ = batches.blocking_send(Err(ApiError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        "request.unreadable",
                        format!("the CSV stops being readable at line {line}: {error}"),
                    )));
                    return;
                }
            }
        }
        if batch.len() == BATCH
            && batches
                .blocking_send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                .is_err()
        {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(Ok(batch));
    }
}

fn row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    line: u64,
    phone_at: usize,
    zone_at: Option<usize>,
    options: &ImportOptions,
) -> Result<NewContact, RowProblem> {
    let problem = |field: &str, message: String| RowProblem {
        line,
        field: field.to_owned(),
        message,
    };
    if record.len() != headers.len() {
        return Err(problem(
            "row",
            format!(
                "has {} fields, the header has {}",
                record.len(),
                headers.len()
            ),
        ));
    }
    let raw_phone = record.get(phone_at).unwrap_or_default();
    let number = phone::normalise("phone", raw_phone, options.default_region.as_deref())
        .map_err(|e| problem("phone", e.message))?;
    let zone = match zone_at
        .and_then(|at| record.get(at))
        .filter(|z| !z.is_empty())
    {
        Some(zone) => TimeZoneName::parse(zone)
            .map_err(|e| problem("timezone", e.to_string()))?
            .as_str()
            .to_owned(),
        None => phone::zone_of(&number)
            .ok_or_else(|| {
                problem(
                    "timezone",
                    format!(
                        "{number} is in a country with several time zones: add a timezone column"
                    ),
                )
            })?
            .to_owned(),
    };
    let variables: Map<String, Value> = headers
        .iter()
        .zip(record.iter())
        .enumerate()
        .filter(|(at, (name, _))| *at != phone_at && Some(*at) != zone_at && !name.is_empty())
        .map(|(_, (name, value))| (name.to_owned(), Value::String(value.to_owned())))
        .collect();
    Ok(NewContact {
        phone: number.to_string(),
        timezone: zone,
        variables,
    })
}

/// Imports the CSV `body` into the campaign and reports every row that did not go in.
pub async fn import_contacts(
    store: &dyn Store,
    campaign: CampaignId,
    body: Body,
    options: ImportOptions,
) -> ApiResult<ImportReport> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let (sender, mut batches) = mpsc::channel(2);
    let parser = tokio::task::spawn_blocking(move || parse(reader, options, sender));
    let mut report = ImportReport::default();
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        report.rows += batch.len() as u64;
        let mut seen = HashSet::with_capacity(batch.len());
        let mut lines = Vec::with_capacity(batch.len());
        let mut contacts = Vec::with_capacity(batch.len());
        for (line, parsed) in batch {
            match parsed {
                Ok(contact) if !seen.insert(contact.phone.clone()) => report.duplicate(line),
                Ok(contact) => {
                    lines.push(line);
                    contacts.push(contact);
                }
                Err(problem) => report.reject(problem),
            }
        }
        if contacts.is_empty() {
            continue;
        }
        let inserted = store.import_contacts(campaign, contacts).await?;
        for (line, inserted) in lines.into_iter().zip(inserted) {
            if inserted {
                report.imported += 1;
            } else {
                report.duplicate(line);
            }
        }
    }
    parser.await.map_err(ApiError::internal)?;
    Ok(report)
}
