//! Bots, campaigns and contact imports.
//!
//! Bots are versioned, campaigns have checked states and validated settings, and an import is all
//! or nothing.

use crate::support::*;
use contracts::BotId;
use std::sync::Arc;
use store::{CampaignState, ContactFilter, ContactStatus, Page, Store, StoreError};

async fn editing_a_bot_makes_a_new_version_and_a_call_keeps_the_one_it_ran(store: Arc<dyn Store>) {
    let bot_id = bot(&*store).await;
    let now = at(2026, 11, 23, 9, 0);
    let first_call = web_call(&*store, bot_id, now).await;
    let v2 = store
        .save_bot_version(bot_id, spec("Be brief."), None)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(store.bot(bot_id).await.unwrap().current_version, 2);
    assert_eq!(store.call(first_call.id).await.unwrap().bot_version, 1);
    let ran = store
        .bot_version(bot_id, first_call.bot_version)
        .await
        .unwrap();
    assert_eq!(ran.spec.system_prompt, "You remind people.");
    let versions = store.list_bot_versions(bot_id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let missing = store
        .save_bot_version(BotId(9999), spec("x"), None)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
}

async fn archived_bots_leave_the_default_list(store: Arc<dyn Store>) {
    let kept = bot(&*store).await;
    let archived = bot(&*store).await;
    store.set_bot_archived(archived, true).await.unwrap();
    let listed = store.list_bots(Page::default(), false).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![kept]
    );
    assert_eq!(
        store
            .list_bots(Page::default(), true)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

async fn campaign_states_move_only_along_checked_transitions(store: Arc<dyn Store>) {
    let bot_id = bot(&*store).await;
    let campaign = store
        .create_campaign(campaign_config(bot_id, "Renewals"))
        .await
        .unwrap();
    assert_eq!(campaign.state, CampaignState::Draft);
    let illegal = store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Paused)
        .await
        .unwrap_err();
    assert!(matches!(illegal, StoreError::Invalid { .. }), "{illegal}");
    store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Running)
        .await
        .unwrap();
    let stale = store
        .set_campaign_state(campaign.id, CampaignState::Draft, CampaignState::Running)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::WrongState { ref actual, .. } if actual == "running"),
        "{stale}"
    );
    store
        .set_campaign_state(campaign.id, CampaignState::Running, CampaignState::Paused)
        .await
        .unwrap();
    store
        .set_campaign_state(campaign.id, CampaignState::Paused, CampaignState::Running)
        .await
        .unwrap();
    store
        .set_campaign_state(
            campaign.id,
            CampaignState::Running,
            CampaignState::Completed,
        )
        .await
        .unwrap();
    let running = store
        .list_campaigns(Page::default(), Some(CampaignState::Running))
        .await
        .unwrap();
    assert!(running.items.is_empty());
    let edit = store
        .update_campaign(campaign.id, campaign_config(bot_id, "Renewals 2"))
        .await
        .unwrap_err();
    assert!(matches!(edit, StoreError::WrongState { .. }), "{edit}");
}

async fn bad_campaign_settings_are_rejected_naming_the_field(store: Arc<dyn Store>) {
    let bot_id = bot(&*store).await;
    let mut negative = campaign_config(bot_id, "Bad");
    negative.max_attempts = -1;
    let error = store.create_campaign(negative).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "max_attempts"),
        "{error}"
    );
    let mut ratio = campaign_config(bot_id, "Bad");
    ratio.abandon_target = 1.5;
    let error = store.create_campaign(ratio).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "abandon_target"),
        "{error}"
    );
    let error = store
        .create_campaign(campaign_config(BotId(4242), "Bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownReference { ref field, .. } if field == "bot_id"),
        "{error}"
    );
    store
        .create_campaign(campaign_config(bot_id, "Taken"))
        .await
        .unwrap();
    let error = store
        .create_campaign(campaign_config(bot_id, "Taken"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    assert_eq!(
        store
            .list_campaigns(Page::default(), None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn a_contact_batch_with_one_bad_row_writes_nothing_and_names_the_row(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    let mut batch = many_contacts(5);
    batch[3].phone = "415 555 0100".into();
    let error = store.add_contacts(campaign, batch).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "contacts[3].phone"),
        "{error}"
    );
    let mut batch = many_contacts(5);
    batch[1].timezone = "America/Nowhere".into();
    let error = store.add_contacts(campaign, batch).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "contacts[1].timezone"),
        "{error}"
    );
    let listed = store
        .list_contacts(campaign, ContactFilter::default(), Page::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
}

async fn a_number_already_in_the_campaign_rolls_back_the_whole_batch(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(2))
        .await
        .unwrap();
    // 698 new numbers, then one already imported: the failing row is in the second INSERT chunk.
    let mut batch = many_contacts(700).split_off(2);
    batch.push(contact("+14150000001", "UTC"));
    let error = store.add_contacts(campaign, batch).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    let listed = store
        .list_contacts(campaign, ContactFilter::default(), Page::first(1000))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
}

async fn contacts_list_by_status_and_phone_with_pages(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    assert_eq!(
        store
            .add_contacts(campaign, many_contacts(5))
            .await
            .unwrap(),
        5
    );
    let page = store
        .list_contacts(campaign, ContactFilter::default(), Page::first(3))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    let rest = store
        .list_contacts(
            campaign,
            ContactFilter::default(),
            Page {
                limit: 3,
                after: page.next_after,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(rest.next_after.is_none());
    let one = store
        .list_contacts(
            campaign,
            ContactFilter {
                status: Some(ContactStatus::Pending),
                phone: Some("+14150000002".into()),
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].variables["name"], "Ada");
    assert_eq!(one.items[0].timezone.as_str(), "America/New_York");
}

both_backends!(
    editing_a_bot_makes_a_new_version_and_a_call_keeps_the_one_it_ran,
    archived_bots_leave_the_default_list,
    campaign_states_move_only_along_checked_transitions,
    bad_campaign_settings_are_rejected_naming_the_field,
    a_contact_batch_with_one_bad_row_writes_nothing_and_names_the_row,
    a_number_already_in_the_campaign_rolls_back_the_whole_batch,
    contacts_list_by_status_and_phone_with_pages,
);
