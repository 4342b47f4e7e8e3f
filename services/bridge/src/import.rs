//! Streamed CSV contact import.
//!
//! The body is parsed as it arrives (never held whole), rows are normalised and checked, and
//! written in batches.
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
    pub(crate) fn reject(&mut self, problem: RowProblem) {
        self.rejected += 1;
        if self.errors.len() < REPORT_LIMIT {
            self.errors.push(problem);
        } else {
            self.truncated = true;
        }
    }

    pub(crate) fn duplicate(&mut self, line: u64) {
        self.duplicates += 1;
        if self.duplicate_lines.len() < REPORT_LIMIT {
            self.duplicate_lines.push(line);
        } else {
            self.truncated = true;
        }
    }
}

/// Parsed rows with their line numbers.
pub(crate) type Parsed<T> = Vec<(u64, Result<T, RowProblem>)>;

/// Reads a CSV body on a blocking thread: `prepare` checks the header and returns the row
/// mapper; batches of mapped rows come out of the channel, the header check first.
pub(crate) fn spawn_parser<T, F, P>(
    body: Body,
    prepare: P,
) -> (
    mpsc::Receiver<ApiResult<Parsed<T>>>,
    tokio::task::JoinHandle<()>,
)
where
    T: Send + 'static,
    F: FnMut(&csv::StringRecord, u64) -> Result<T, RowProblem>,
    P: FnOnce(&csv::StringRecord) -> ApiResult<F> + Send + 'static,
{
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = LineCap::new(SyncIoBridge::new(StreamReader::new(stream)));
    let (sender, receiver) = mpsc::channel(2);
    let task = tokio::task::spawn_blocking(move || parse(reader, prepare, sender));
    (receiver, task)
}

/// The longest line a CSV import takes: a contact's row is a few hundred bytes, and a field of
/// hundreds of megabytes would be held whole (and end up in every system prompt) (L7).
pub(crate) const MAX_LINE_BYTES: usize = 64 << 10;

/// A reader that fails once a line runs past [`MAX_LINE_BYTES`] without a newline.
struct LineCap<R> {
    inner: R,
    since_newline: usize,
}

impl<R> LineCap<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            since_newline: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            self.since_newline = if byte == b'\n' {
                0
            } else {
                self.since_newline + 1
            };
            if self.since_newline > MAX_LINE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line is over {} KiB", MAX_LINE_BYTES >> 10),
                ));
            }
        }
        Ok(n)
    }
}

fn parse<T, F>(
    reader: impl std::io::Read,
    prepare: impl FnOnce(&csv::StringRecord) -> ApiResult<F>,
    batches: mpsc::Sender<ApiResult<Parsed<T>>>,
) where
    F: FnMut(&csv::StringRecord, u64) -> Result<T, RowProblem>,
{
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
    let mut map_row = match prepare(&headers) {
        Ok(map_row) => map_row,
        Err(error) => {
            let _ = batches.blocking_send(Err(error));
            return;
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let mapped = if record.len() == headers.len() {
                    map_row(&record, line)
                } else {
                    Err(RowProblem {
                        line,
                        field: "row".into(),
                        message: format!(
                            "has {} fields, the header has {}",
                            record.len(),
                            headers.len()
                        ),
                    })
                };
                batch.push((line, mapped));
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

/// The position of the column named `name`: any case, surrounding whitespace ignored (as the
/// reader ignores it in the header).
fn position(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    let wanted = name.trim();
    headers.iter().position(|h| h.eq_ignore_ascii_case(wanted))
}

/// The position of the column named `name` ([`position`]), or a 422 naming `field`.
pub(crate) fn column(headers: &csv::StringRecord, name: &str, field: &str) -> ApiResult<usize> {
    position(headers, name).ok_or_else(|| {
        let columns = headers.iter().collect::<Vec<_>>().join(", ");
        ApiError::invalid(
            field,
            format!("the header has no {name:?} column (columns: {columns})"),
        )
    })
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
    let (mut batches, parser) = spawn_parser(body, move |headers| {
        let phone_at = column(headers, &options.phone_column, "phone_column")?;
        let zone_at = position(headers, &options.timezone_column);
        let headers = headers.clone();
        Ok(move |record: &csv::StringRecord, line| {
            row(&headers, record, line, phone_at, zone_at, &options)
        })
    });
    collect(
        &mut batches,
        parser,
        |contact: &NewContact| contact.phone.clone(),
        |contacts| Box::pin(async move { Ok(store.import_contacts(campaign, contacts).await?) }),
    )
    .await
}

/// Imports a CSV of numbers (`phone`, optional `reason`) into the do-not-call list.
pub async fn import_dnc(
    store: &dyn Store,
    body: Body,
    default_region: Option<String>,
) -> ApiResult<ImportReport> {
    let (mut batches, parser) = spawn_parser(body, move |headers| {
        let phone_at = column(headers, "phone", "phone_column")?;
        let reason_at = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("reason"));
        Ok(move |record: &csv::StringRecord, line| {
            let raw = record.get(phone_at).unwrap_or_default();
            let number =
                phone::normalise("phone", raw, default_region.as_deref()).map_err(|e| {
                    RowProblem {
                        line,
                        field: "phone".into(),
                        message: e.message,
                    }
                })?;
            let reason = reason_at
                .and_then(|at| record.get(at))
                .unwrap_or("imported")
                .to_owned();
            Ok((number.to_string(), reason))
        })
    });
    collect(
        &mut batches,
        parser,
        |entry: &(String, String)| entry.0.clone(),
        |entries| Box::pin(async move { Ok(store.add_dnc_batch(entries).await?) }),
    )
    .await
}

/// Drains the parser: rejected rows and numbers repeated in a batch go to the report, the rest
/// to `write`, which says per row whether it went in (a `false` is a duplicate of stored data).
async fn collect<'a, T>(
    batches: &mut mpsc::Receiver<ApiResult<Parsed<T>>>,
    parser: tokio::task::JoinHandle<()>,
    key: impl Fn(&T) -> String,
    mut write: impl FnMut(Vec<T>) -> futures_util::future::BoxFuture<'a, ApiResult<Vec<bool>>>,
) -> ApiResult<ImportReport> {
    let mut report = ImportReport::default();
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        report.rows += batch.len() as u64;
        let mut seen = HashSet::with_capacity(batch.len());
        let mut lines = Vec::with_capacity(batch.len());
        let mut items = Vec::with_capacity(batch.len());
        for (line, parsed) in batch {
            match parsed {
                Ok(item) if !seen.insert(key(&item)) => report.duplicate(line),
                Ok(item) => {
                    lines.push(line);
                    items.push(item);
                }
                Err(problem) => report.reject(problem),
            }
        }
        if items.is_empty() {
            continue;
        }
        for (line, inserted) in lines.into_iter().zip(write(items).await?) {
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
