//! Kill tests: each process that holds a call in flight is killed (SIGKILL) mid-campaign.
//!
//! For each of the Backend, a fleet worker, the dialler, the whisper sidecar, Redis and a
//! PostgreSQL restart, a campaign runs on the PSTN simulator through the whole platform as real
//! processes (`rig.rs`); once conversations are live the victim dies, comes back, and the
//! campaign runs until every call is final and every contact done or waiting for a later
//! attempt. Then the records are counted: calls placed, conversations, results delivered, calls
//! cut by the kill, duplicates (a second end for one call, two attempts of one contact at once)
//! and losses (a conversation without a result, a call never final). The goal is 0 and 0.
//! docs/security.md records the counts of a run.

mod rig;

use crate::support::campaign::{campaign_calls, overlapping_attempts};
use contracts::CallState;
use rig::{Rig, Victim};
use std::time::Duration;
use store::{ContactStatus, Page, Store};

const CONTACTS: usize = 8;

/// What a run left in the store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    placed: usize,
    conversations: usize,
    results: usize,
    /// Conversations the kill cut short, ended with `fleet.worker_lost` (the contact is
    /// dialled again later).
    cut: usize,
    duplicates: usize,
    losses: usize,
}

/// The six kills take turns in one test: each is a campaign of real-time calls through whisper
/// on a small machine. A failure names the victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_survives_the_kill_of_every_process_with_no_result_lost_or_duplicated() {
    let mut tallies = Vec::new();
    for victim in Victim::ALL {
        eprintln!("kill test: {victim:?} killed mid-campaign");
        let tally = campaign_with_a_kill(victim).await;
        eprintln!("kill test: {victim:?}: {tally:?}");
        tallies.push((victim, tally));
    }
    eprintln!(
        "| killed | calls placed | conversations | results delivered | cut by the kill | duplicates | losses |"
    );
    for (victim, t) in &tallies {
        eprintln!(
            "| {victim:?} | {} | {} | {} | {} | {} | {} |",
            t.placed, t.conversations, t.results, t.cut, t.duplicates, t.losses
        );
    }
}

fn population() -> sim::Population {
    sim::Population {
        answer: 0.75,
        voicemail: 0.0,
        busy: 0.25,
        failed: 0.0,
        ring_median_secs: 1.5,
        ring_sigma: 0.2,
        answer_with: String::new(),
        script: vec!["Yes, I would like to book an appointment.".to_owned()],
        hang_up_after_secs: 30.0,
        ..sim::Population::default()
    }
}

async fn campaign_with_a_kill(victim: Victim) -> Tally {
    let mut rig = Rig::start(&population()).await;
    let mut spec = test_support::bots::booking_bot();
    spec.stt
        .options
        .insert("base_url".to_owned(), rig.whisper_url.clone().into());
    let campaign =
        store::testing::running_campaign(&*rig.store, "Kill", spec, CONTACTS, 3, 4).await;
    rig.start_dialler();

    // Conversations are live: the victim dies now (a worker: the one holding a conversation).
    let live = wait_until(&rig, campaign, Duration::from_secs(60), |calls, _| {
        calls
            .iter()
            .find(|c| c.state == CallState::InProgress && c.worker_id.is_some())
            .cloned()
    })
    .await;
    let Some(live) = live else {
        let calls = campaign_calls(&*rig.store, campaign).await.unwrap();
        panic!(
            "{victim:?}: no conversation started: {:?}\n{}",
            calls
                .iter()
                .map(|c| (c.id.0, c.state, c.outcome))
                .collect::<Vec<_>>(),
            rig.logs()
        );
    };
    let worker = match live.worker_id.as_deref() {
        Some("voxcore-2") => 2,
        _ => 1,
    };
    rig.kill_and_restart(victim, worker, Duration::from_secs(2))
        .await;

    // Until every call is final and every contact done or waiting for a later attempt.
    let finished = wait_until(&rig, campaign, Duration::from_secs(150), settled).await;
    let calls = campaign_calls(&*rig.store, campaign).await.unwrap();
    let contacts = rig
        .store
        .list_contacts(campaign, Default::default(), Page::first(100))
        .await
        .unwrap()
        .items;
    let tally = count(&*rig.store, &calls).await;
    let summary = calls
        .iter()
        .map(|c| (c.id.0, c.contact_id.map(|c| c.0), c.state, c.outcome))
        .collect::<Vec<_>>();
    assert!(
        finished.is_some() && tally.losses == 0 && tally.duplicates == 0,
        "{victim:?}: {tally:?}\ncalls {summary:?}\ncontacts {:?}\n{}",
        contacts
            .iter()
            .map(|c| (c.id.0, c.status, c.attempts))
            .collect::<Vec<_>>(),
        rig.logs()
    );
    assert!(
        tally.conversations >= 1 && tally.results >= tally.conversations,
        "{victim:?}: {tally:?}"
    );
    tally
}

/// Polls the campaign's calls and contacts (every 500 ms, through store errors while
/// PostgreSQL restarts) until `done` finds what it waits for, or `limit` passes.
async fn wait_until<T>(
    rig: &Rig,
    campaign: contracts::CampaignId,
    limit: Duration,
    done: impl Fn(&[store::Call], &[store::Contact]) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(calls) = campaign_calls(&*rig.store, campaign).await else {
            continue;
        };
        let Ok(contacts) = rig
            .store
            .list_contacts(campaign, Default::default(), Page::first(100))
            .await
        else {
            continue;
        };
        if let Some(found) = done(&calls, &contacts.items) {
            return Some(found);
        }
    }
    None
}

/// Every call is final, and every contact done or waiting for an attempt not yet due.
fn settled(calls: &[store::Call], contacts: &[store::Contact]) -> Option<()> {
    let now = chrono::Utc::now();
    let contacts_settled = contacts.iter().all(|c| {
        c.status == ContactStatus::Done
            || (c.status == ContactStatus::Pending && c.next_attempt_at > now)
    });
    (contacts_settled && calls.iter().all(|c| c.state.is_terminal())).then_some(())
}

async fn count(store: &dyn Store, calls: &[store::Call]) -> Tally {
    let mut tally = Tally {
        placed: calls.len(),
        ..Tally::default()
    };
    for call in calls {
        let events = store.call_events(call.id).await.unwrap();
        let talked = events.iter().any(|e| e.to_state == CallState::InProgress);
        let ends = events.iter().filter(|e| e.to_state.is_terminal()).count();
        if talked {
            tally.conversations += 1;
            if call.result.is_none() {
                tally.losses += 1;
            }
        }
        if call.result.is_some() {
            tally.results += 1;
        }
        if call.outcome == Some(contracts::CallOutcomeCode::FleetWorkerLost) {
            tally.cut += 1;
        }
        if !call.state.is_terminal() {
            tally.losses += 1;
        }
        if ends > 1 {
            tally.duplicates += 1;
        }
    }
    tally.duplicates += overlapping_attempts(calls).len();
    tally
}
